"""``/icp/a/{aid}/c/{cfid}/subscriptions``: put contacts on lists, change or move them.

There is no DELETE (KB-SUB): a subscriber leaves a list by a POST of
``{"status": "unsubscribed"}`` to ``subscriptions/{listId}_{contactId}``.

Statuses (KB-SUB): ``normal`` (receives the list's mail), ``pending`` (awaits a double opt-in
confirmation; ``confirmationMessageId`` names the confirmation message, optional, kept with the
record but, like every field not recorded on the wire, not sent back), ``unsubscribed``. A
pending subscription becomes ``normal`` when the person confirms it (the simulator's page or
``POST /icp/_sandbox/confirm``); until then its contact counts as on no list.

Where the reference is silent, the simulator chooses, and says so:

- Re-posting an existing pair sets its status (200, upsert), as the reference recommends. That
  includes a pair the person unsubscribed themselves: the API cannot tell that apart from an
  unsubscribe an API client made (both read ``unsubscribed``), so respecting it is the client's
  job. The simulator notes every such override in its consent log (:mod:`.consent`).
- A subscription to ``normal`` or ``pending`` for a contact whose status is ``donotcontact`` or
  ``bounced`` is refused: the record is skipped with a warning and logged, the rest of the batch
  is saved (200), and a single-subscription POST answers 400. Setting ``unsubscribed`` is
  always allowed. ``donotcontact`` is iContact's block on all mail and the API cannot lift it
  (a contact's status cannot be changed away from it, AE-data-model); a bounced address takes
  no mail either. The strict reading makes a client see, and handle, the refusal.
"""

from __future__ import annotations

from flask import Response, abort, request

from . import messages
from .accounts import Account
from .consent import api_sets_status, refusal
from .context import current_account, sandbox_state
from .guard import scoped_blueprint
from .records import (
    SUBSCRIPTION_KEYS,
    SUBSCRIPTION_STATUSES,
    add_date,
    as_id,
    split_subscription_id,
    subscription_view,
)
from .replies import error_response, json_response, search_all
from .resources import add_record_routes, changed_response
from .state import SandboxState

bp = scoped_blueprint("icp_subscriptions", "subscriptions")
# Kept with the record (no mail is sent here); never echoed, as no recording shows it.
_ACCEPTED_EXTRAS = ("confirmationMessageId",)
_READ_ONLY = ("subscriptionId", "addDate")


def _check_id(account: Account, item: dict, name: str) -> tuple[str | None, str | None]:
    if item.get(name) in (None, ""):
        return None, messages.missing_field(name)
    value = as_id(item[name])
    known = account.lists if name == "listId" else account.contacts
    if value is None or value not in known:
        return None, messages.BAD_ID.format(field=name, value=item[name])
    return value, None


def check_subscription(account: Account, item: object) -> tuple[tuple, list[str], str | None]:
    """Validate one subscription record against the account's lists and contacts.

    Returns:
        ``((listId, contactId, status), warnings, problem)``; skip the record on ``problem``.
    """
    if not isinstance(item, dict):
        return (), [], messages.NOT_AN_OBJECT
    list_id, problem = _check_id(account, item, "listId")
    if problem:
        return (), [], problem
    contact_id, problem = _check_id(account, item, "contactId")
    if problem:
        return (), [], problem
    status = item.get("status")
    if status in (None, ""):
        return (), [], messages.missing_field("status")
    if status not in SUBSCRIPTION_STATUSES:
        return (), [], messages.BAD_SUBSCRIPTION_STATUS
    message_id = item.get("confirmationMessageId")
    if message_id not in (None, "") and as_id(message_id) is None:
        return (), [], messages.BAD_ID.format(field="confirmationMessageId", value=message_id)
    known = ("listId", "contactId", "status", *_ACCEPTED_EXTRAS)
    warnings = _field_warnings([key for key in item if key not in known])
    return (list_id, contact_id, status, as_id(message_id)), warnings, None


def _field_warnings(keys: list[str]) -> list[str]:
    immutable = [key for key in keys if key in _READ_ONLY]
    return messages.unsaved_fields([key for key in keys if key not in _READ_ONLY], immutable)


def subscribe(state: SandboxState, account: Account, items: list) -> tuple[list[dict], list[str]]:
    """Create each subscription, or set the status of one that exists (an assumption: no
    source documents re-posting a pair; 200 + upsert is what clients appear to expect)."""
    saved, warnings = [], []
    with state.lock:
        for item in items:
            fields, notes, problem = check_subscription(account, item)
            warnings.extend(notes)
            if problem:
                warnings.append(problem)
                continue
            list_id, contact_id, status, message_id = fields
            refused = refusal(state, account, list_id, contact_id, status)
            if refused:
                warnings.append(refused)
                continue
            record = account.subscriptions.get((list_id, contact_id))
            if record is None:
                record = _new_subscription(state, list_id, contact_id, status)
                account.subscriptions[(list_id, contact_id)] = record
            api_sets_status(state, account, record, status)
            if message_id is not None:
                record["confirmationMessageId"] = message_id
            saved.append(subscription_view(record))
    return saved, warnings


def _new_subscription(state: SandboxState, list_id: str, contact_id: str, status: str) -> dict:
    return {
        "addDate": add_date(state.now()),
        "contactId": contact_id,
        "listId": list_id,
        "status": status,
        "subscriptionId": f"{list_id}_{contact_id}",
    }


def _existing(account: Account, subscription_id: str) -> dict:
    record = account.subscriptions.get(split_subscription_id(subscription_id))
    if record is None:
        abort(error_response(404, messages.NOT_FOUND))
    return record


def change_status(
    state: SandboxState, account: Account, subscription_id: str, body: dict
) -> tuple[dict, list[str]]:
    """Set the status of one subscription (the documented way to unsubscribe)."""
    with state.lock:
        record = _existing(account, subscription_id)
        keys = [key for key in body if key != "status"]
        warnings = _field_warnings([key for key in keys if key not in ("listId", "contactId")])
        moved = [key for key in keys if key in ("listId", "contactId")]
        if moved:
            warnings.append(messages.IMMUTABLE_FIELDS.format(fields=", ".join(moved)))
        if "status" in body:
            status = body["status"]
            if status not in SUBSCRIPTION_STATUSES:
                abort(error_response(400, messages.BAD_SUBSCRIPTION_STATUS))
            refused = refusal(state, account, record["listId"], record["contactId"], status)
            if refused:
                abort(error_response(400, refused))
            api_sets_status(state, account, record, status)
        return subscription_view(record), warnings


def move(
    state: SandboxState, account: Account, subscription_id: str, body: dict
) -> tuple[dict, list[str]]:
    """Move one subscription to the list named by ``body["listId"]`` (status kept)."""
    with state.lock:
        record = _existing(account, subscription_id)
        list_id, problem = _check_id(account, body, "listId")
        if list_id is None:
            abort(error_response(400, problem or messages.NOT_FOUND))
        warnings = _field_warnings([key for key in body if key != "listId"])
        contact_id = record["contactId"]
        del account.subscriptions[(record["listId"], contact_id)]
        # The move keeps the status and who unsubscribed it; a new pair gets a new addDate.
        moved = {**record, **_new_subscription(state, list_id, contact_id, record["status"])}
        account.subscriptions[(list_id, contact_id)] = moved
        return subscription_view(moved), warnings


@bp.get("")
@bp.get("/")
def list_subscriptions() -> Response:
    """Subscriptions, searchable by ``listId``, ``contactId``, ``status`` and the rest."""
    return search_all("subscriptions", "subscriptions", subscription_view, SUBSCRIPTION_KEYS)


# Subscribe; unknown lists or contacts become warnings (the batch never fails).
add_record_routes(bp, "subscription", "subscriptions", subscribe)


@bp.get("/<subscription_id>")
def get_subscription(subscription_id: str) -> Response:
    """One subscription by ``{listId}_{contactId}``, or 404."""
    state = sandbox_state()
    with state.lock:
        return json_response(
            {"subscription": subscription_view(_existing(current_account(), subscription_id))}
        )


@bp.post("/<subscription_id>")
def post_subscription(subscription_id: str) -> Response:
    """Change only the supplied fields: in practice ``{"status": "unsubscribed"}``."""
    return changed_response("subscription", change_status, subscription_id)


@bp.put("/<subscription_id>")
def put_subscription(subscription_id: str) -> Response:
    """Move to another list; only API-Version 2.2 can do this (KB-SUB)."""
    if request.headers.get("API-Version", "").strip() != "2.2":
        return error_response(501, messages.MOVE_NEEDS_2_2)
    return changed_response("subscription", move, subscription_id)
