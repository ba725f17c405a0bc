"""The write answers the three record resources (contacts, lists, subscriptions) share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort

from . import messages
from .accounts import Account
from .bodies import read_items, read_object
from .context import current_account, sandbox_state
from .replies import error_response, one_record, with_warnings
from .state import SandboxState

Save = Callable[[SandboxState, Account, list], tuple[list[dict], list[str]]]
Change = Callable[..., tuple[dict, list[str]]]


def created_response(singular: str, plural: str, save: Save) -> Response:
    """A collection POST: ``save`` keeps the acceptable records of the body.

    Returns:
        The echoed records under ``plural`` (null when none was kept, as recorded), and the
        rejected ones as warnings: the batch never fails.
    """
    saved, warnings = save(sandbox_state(), current_account(), read_items(singular, plural))
    return with_warnings({plural: saved or None}, warnings)


def changed_response(singular: str, change: Change, record_id: str, **options: Any) -> Response:
    """A member POST or PUT: ``change(state, account, record_id, body, **options)``.

    Returns:
        The echoed record under ``singular``, with its warnings.
    """
    record, warnings = change(
        sandbox_state(), current_account(), record_id, read_object(), **options
    )
    return with_warnings({singular: record}, warnings)


def add_record_routes(
    bp: Blueprint,
    singular: str,
    plural: str,
    save: Save,
    view: Callable[[dict], dict] | None = None,
) -> None:
    """Route what every record resource answers alike: a POST to the collection creates
    (:func:`created_response`), and, given ``view``, a GET of a member reads it or answers 404.
    """

    def create() -> Response:
        return created_response(singular, plural, save)

    for rule in ("", "/"):
        bp.add_url_rule(rule, f"post_{plural}", create, methods=["POST"])
    if view is not None:
        key = f"{singular}_id"

        def read(**ids: str) -> Response:
            return one_record(singular, plural, ids[key], view)

        bp.add_url_rule(f"/<{key}>", f"get_{singular}", read, methods=["GET"])


def usable(checked: tuple[dict, list[str], str | None]) -> tuple[dict, list[str]]:
    """A checked member write body's values and warnings; aborts with 400 on its problem."""
    values, warnings, problem = checked
    if problem:
        abort(error_response(400, problem))
    return values, warnings


def existing(table: dict[str, dict], record_id: str) -> dict:
    """The stored record ``record_id`` of ``table``; aborts with 404 when there is none."""
    record = table.get(record_id)
    if record is None:
        abort(error_response(404, messages.NOT_FOUND))
    return record
