"""``/icp/a/{aid}/c/{cfid}/lists``: create, read, update and delete lists."""

from __future__ import annotations

from functools import partial

from flask import Response

from . import messages
from .accounts import Account
from .context import current_account, sandbox_state
from .guard import scoped_blueprint
from .records import (
    LIST_FLAGS,
    LIST_KEYS,
    LIST_TEXT_FIELDS,
    NOT_A_FIELD,
    BadValue,
    accepted,
    as_flag,
    as_text,
    list_echo,
    list_read,
    sort_fields,
)
from .replies import error_response, json_response, search_all
from .resources import add_record_routes, changed_response, existing, usable
from .state import SandboxState

bp = scoped_blueprint("icp_lists", "lists")


def check_list(item: object, *, require_name: bool) -> tuple[dict, list[str], str | None]:
    """Sort one incoming list record into usable values, warnings and a fatal problem.

    Returns:
        ``(values, warnings, problem)``; when ``problem`` is set the record must not be saved.
    """
    values, warnings, problem = sort_fields(item, _list_value, ("listId",))
    if problem:
        return {}, [], problem
    if (require_name or "name" in values) and not values.get("name"):
        return {}, [], messages.missing_field("name")
    return values, warnings, None


def _list_value(key: str, raw: object) -> object:
    if key in LIST_TEXT_FIELDS:
        return as_text(raw) or ""
    if key in LIST_FLAGS:
        flag = as_flag(raw)
        if flag is None:
            raise BadValue(messages.BAD_FLAG.format(field=key))
        return flag
    return NOT_A_FIELD


def create_lists(
    state: SandboxState, account: Account, items: list
) -> tuple[list[dict], list[str]]:
    """Create every acceptable record; the rest become warnings (the batch never fails)."""
    created: list[dict] = []
    warnings: list[str] = []
    with state.lock:
        for values in accepted(items, partial(check_list, require_name=True), warnings):
            created.append(list_echo(state.add_list(account, values)))
    return created, warnings


def change_list(
    state: SandboxState, account: Account, list_id: str, body: dict, *, replace: bool
) -> tuple[dict, list[str]]:
    """Update (POST: only the given fields) or replace (PUT) one list.

    Returns:
        ``(echoed list, warnings)``; aborts with 404/400 on a missing list or a bad value.
    """
    values, warnings = usable(check_list(body, require_name=replace))
    with state.lock:
        record = existing(account.lists, list_id)
        if replace:
            record.update(
                publicname="",
                description="",
                welcomeMessageId="",
                emailOwnerOnChange=1,
                welcomeOnManualAdd=0,
                welcomeOnSignupAdd=0,
            )
        record.update(values)
        return list_echo(record), warnings


@bp.get("")
@bp.get("/")
def list_lists() -> Response:
    """Lists of the folder; any list field works as a search term."""
    return search_all("lists", "lists", list_read, LIST_KEYS)


# Create lists (``lists`` is null when none was created, like contacts, recorded); one list.
add_record_routes(bp, "list", "lists", create_lists, list_read)


@bp.post("/<list_id>")
def post_list(list_id: str) -> Response:
    """Change only the supplied fields."""
    return changed_response("list", change_list, list_id, replace=False)


@bp.put("/<list_id>")
def put_list(list_id: str) -> Response:
    """Replace the list; omitted fields return to their defaults."""
    return changed_response("list", change_list, list_id, replace=True)


@bp.delete("/<list_id>")
def delete_list(list_id: str) -> Response:
    """Delete the list and its subscriptions; the recorded answer is an empty array."""
    state = sandbox_state()
    with state.lock:
        if list_id not in current_account().lists:
            return error_response(404, messages.NOT_FOUND)
        state.delete_list(list_id)
    return json_response([])
