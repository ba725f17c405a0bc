"""The /icp answers: JSON in the recorded key order, the error envelope, collection pages and
the JSON error pages of API paths."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from flask import Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from . import messages
from .context import current_account, sandbox_state
from .query import Page, QueryError, run_query

# Pages, not API: HTTP errors there keep Flask's HTML.
_HTML_PREFIXES = ("/icp/core/",)
_HTML_PATHS = ("/", "/icp", "/icp/")


def json_response(payload: object, status: int = 200) -> Response:
    """``payload`` as JSON, keys in the order built (the recorded order)."""
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def error_response(status: int, *errors: str) -> Response:
    """The service's error envelope: ``{"errors": [...]}``."""
    return json_response({"errors": list(errors)}, status)


def with_warnings(payload: dict, warnings: list[str]) -> Response:
    """``payload`` plus a ``warnings`` array when there is anything to warn about."""
    if warnings:
        payload["warnings"] = warnings
    return json_response(payload)


def search_response(
    key: str, records: list[dict], searchable, *, handled: Sequence[str] = ()
) -> Response:
    """Filter and page ``records`` by the request's query: the envelope, or 400 on bad paging."""
    faults = sandbox_state().faults
    try:
        page = run_query(
            records,
            request.args,
            searchable,
            handled=handled,
            comparison_search=faults.comparison_search,
            max_limit=faults.max_page_size,
        )
    except QueryError:
        return error_response(400, messages.BAD_PAGING)
    return page_response(key, page)


def one_record(key: str, table: str, record_id: str, view: Callable[[dict], dict]) -> Response:
    """``{key: view(record)}`` of the account's record ``record_id`` in ``table`` (``"lists"``,
    ``"contacts"``), or 404."""
    with sandbox_state().lock:
        record = getattr(current_account(), table).get(record_id)
        if record is None:
            return error_response(404, messages.NOT_FOUND)
        return json_response({key: view(record)})


def search_all(key: str, table: str, view: Callable[[dict], dict], searchable) -> Response:
    """Every record of the account's ``table`` as ``view`` shows it, searched and paged."""
    with sandbox_state().lock:
        records = [view(r) for r in getattr(current_account(), table).values()]
    return search_response(key, records, searchable)


def page_response(key: str, page: Page, warnings: Sequence[str] = ()) -> Response:
    """A collection GET envelope (recorded key order) with any unknown-term warning."""
    payload = {key: page.items, "limit": page.limit, "offset": page.offset, "total": page.total}
    notes = list(warnings)
    if page.unknown_terms:
        notes.append(messages.unknown_terms(page.unknown_terms))
    return with_warnings(payload, notes)


def is_api_path(path: str) -> bool:
    """Whether ``path`` is a JSON endpoint (errors there are JSON too)."""
    return (
        path.startswith("/icp/") and path not in _HTML_PATHS and not path.startswith(_HTML_PREFIXES)
    )


def http_error(error: HTTPException) -> Response | HTTPException:
    """App-wide HTTP error handler: JSON envelope on API paths, Flask's page elsewhere."""
    if not is_api_path(request.path):
        return error
    if isinstance(error, MethodNotAllowed):
        text = messages.METHOD_NOT_ALLOWED.format(method=request.method)
        response = error_response(405, text)
        response.headers["Allow"] = ", ".join(error.valid_methods or ())
        return response
    if isinstance(error, NotFound) and error.description == NotFound.description:
        return error_response(404, messages.NOT_FOUND)
    return error_response(error.code or 500, error.description or messages.INTERNAL_ERROR)
