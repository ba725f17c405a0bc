"""Search and paging on collection GETs: ``field=value`` filters, ``*`` wildcards,
``{field}SearchType``, ``orderby``, ``limit``/``offset``, and the list of ignored terms."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict

#: Page size when the client sends no ``limit`` (recorded responses show 20).
DEFAULT_LIMIT = 20
_PAGING_TERMS = ("limit", "offset", "orderby")
_SEARCH_SUFFIX = "SearchType"
_SEARCH_TYPES = ("eq", "gt", "gte", "lt", "lte", "bet")


class QueryError(ValueError):
    """A query the service would refuse with 400 (bad paging numbers)."""


@dataclass
class Page:
    """One page of matching records plus the numbers the envelope reports."""

    items: list[dict]
    total: int
    limit: int
    offset: int
    unknown_terms: list[str] = field(default_factory=list)


def run_query(
    records: Iterable[dict],
    args: MultiDict[str, str],
    searchable: Iterable[str],
    *,
    handled: Iterable[str] = (),
    comparison_search: bool = True,
    max_limit: int | None = None,
) -> Page:
    """Filter, sort and page ``records`` (already in wire form) by the query ``args``.

    Args:
        records: dicts whose values are strings or ``None``.
        args: the request's query string.
        searchable: field names usable as ``field=value`` terms and in ``orderby``.
        handled: terms the caller deals with itself (not reported as unknown).
        comparison_search: when False, ``{field}SearchType`` terms are unknown terms, so
            ``createDate=D&createDateSearchType=gt`` degrades to ``createDate=D`` plus the
            warning: what a service without comparison searches would answer.
        max_limit: the largest page served; a larger ``limit`` is lowered to it.

    Raises:
        QueryError: if ``limit`` or ``offset`` is not a usable number.
    """
    searchable, handled = set(searchable), set(handled)
    unknown: list[str] = []
    filters = []
    for term in args:
        if term in _PAGING_TERMS or term in handled:
            continue
        is_search_type = term.endswith(_SEARCH_SUFFIX)
        if is_search_type and comparison_search and term[: -len(_SEARCH_SUFFIX)] in searchable:
            continue
        if term in searchable:
            kind = args.get(term + _SEARCH_SUFFIX, "eq") if comparison_search else "eq"
            filters.append((term, args.get(term, ""), kind if kind in _SEARCH_TYPES else "eq"))
        else:
            unknown.append(term)
    matched = [r for r in records if all(_matches(r.get(f), v, k) for f, v, k in filters)]
    for name, descending in reversed(_order_terms(args.get("orderby", ""), searchable, unknown)):
        matched.sort(key=_field_key(name), reverse=descending)
    limit = _number(args.get("limit"), DEFAULT_LIMIT, minimum=1)
    if max_limit is not None:
        limit = min(limit, max_limit)
    offset = _number(args.get("offset"), 0, minimum=0)
    return Page(matched[offset : offset + limit], len(matched), limit, offset, unknown)


def _number(raw: str | None, default: int, *, minimum: int) -> int:
    if raw is None or raw == "":
        return default
    # isdigit() alone takes "²", which int() refuses: that would be a 500, not a 400.
    if not (raw.isascii() and raw.isdigit()) or int(raw) < minimum:
        raise QueryError(raw)
    return int(raw)


def _order_terms(raw: str, searchable: set[str], unknown: list[str]) -> list[tuple[str, bool]]:
    terms = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, _, direction = part.partition(":")
        if name in searchable:
            terms.append((name, direction.lower() == "desc"))
        else:
            unknown.append(f"orderby {name}")
    return terms


def _field_key(name: str) -> Callable[[dict], tuple[int, float, str]]:
    def key(record: dict) -> tuple[int, float, str]:
        return _sort_key(record.get(name))

    return key


def _sort_key(value: str | None) -> tuple[int, float, str]:
    # Numbers sort numerically (ids are strings), then text; unset values go first.
    if value is None:
        return (0, 0.0, "")
    if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
        return (1, float(value), "")
    return (2, 0.0, value.casefold())


def _matches(value: str | None, wanted: str, kind: str) -> bool:
    if value is None:
        return False
    if kind == "eq":
        if "*" in wanted:
            return fnmatch.fnmatchcase(value.casefold(), _glob(wanted.casefold()))
        return value.casefold() == wanted.casefold()
    if kind == "bet":
        low, _, high = wanted.partition(",")
        return _sort_key(low) <= _sort_key(value) <= _sort_key(high)
    left, right = _sort_key(value), _sort_key(wanted)
    return {
        "gt": left > right,
        "gte": left >= right,
        "lt": left < right,
        "lte": left <= right,
    }[kind]


def _glob(pattern: str) -> str:
    # Only * is a wildcard in iContact searches; escape fnmatch's other specials.
    return "".join(ch if ch == "*" else re.sub(r"([?\[\]])", r"[\1]", ch) for ch in pattern)
