"""``/icp/_sandbox/*``: JSON endpoints that let tests in another process set up and inspect
the simulator. They skip the credential checks and are not counted as API calls."""

from __future__ import annotations

from flask import Blueprint, Response, abort

from . import by_hand, consent
from .bodies import read_object
from .context import sandbox_state
from .records import CONTACT_STATUSES, subscription_view
from .replies import error_response, json_response

bp = Blueprint("icp_sandbox_control", __name__, url_prefix="/icp/_sandbox")


def _required(body: dict, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) == "":
        abort(error_response(400, f"{name} is required and must be a string"))
    return str(value)


def _optional(body: dict, name: str) -> str | None:
    return None if body.get(name) is None else _required(body, name)


@bp.post("/accounts")
def register_account() -> Response:
    """Register an account with one App ID enabled: ``{username, app_id, app_password,
    lists: [names], login_password?}``; answers with its ids and lists."""
    body = read_object()
    names = body.get("lists", [])
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        return error_response(400, "lists must be an array of list names")
    state = sandbox_state()
    with state.lock:
        account = state.register(
            _required(body, "username"),
            _required(body, "app_id"),
            _required(body, "app_password"),
            names,
            login_password=_optional(body, "login_password"),
        )
        lists = [{"listId": r["listId"], "name": r["name"]} for r in account.lists.values()]
        return json_response(
            {
                "username": account.username,
                "accountId": account.account_id,
                "clientFolderId": account.client_folder_id,
                "lists": lists,
            }
        )


@bp.get("/faults")
def get_faults() -> Response:
    """The current fault knobs."""
    return json_response(sandbox_state().faults.as_dict())


@bp.post("/faults")
def set_faults() -> Response:
    """Set any of ``latency``, ``error_500_rate``, ``error_503_rate``, ``calls_per_minute``
    (null = off), ``time_scale``, ``max_batch``, ``max_page_size`` (null = no cap),
    ``comparison_search`` (bool), and optionally ``seed`` to restart the fault dice."""
    body = read_object()
    state = sandbox_state()
    with state.lock:
        seed = body.pop("seed", None)
        try:
            state.faults.update(**body)
        except (TypeError, ValueError) as error:
            return error_response(400, str(error))
        if seed is not None:
            state.rng.seed(seed)
        return json_response(state.faults.as_dict())


@bp.post("/password")
def change_password() -> Response:
    """Give an account's App IDs a new application password: ``{username, app_password}``."""
    body = read_object()
    try:
        sandbox_state().change_password(
            _required(body, "username"),
            _required(body, "app_password"),
            _optional(body, "app_id"),
        )
    except KeyError:
        return error_response(404, "No such account or App ID")
    return json_response({"changed": True})


@bp.post("/delete-list")
def delete_list() -> Response:
    """Delete a list behind the client's back: ``{list_id}``."""
    list_id = _required(read_object(), "list_id")
    if not sandbox_state().delete_list(list_id):
        return error_response(404, "No such list")
    return json_response({"deleted": list_id})


def _person_and_list(body: dict) -> tuple[str, str | None, str | None]:
    list_id = _required(body, "list_id")
    contact_id, email = _optional(body, "contact_id"), _optional(body, "email")
    if (contact_id is None) == (email is None):
        abort(error_response(400, "give either contact_id or email"))
    return list_id, contact_id, email


def _subscription_answer(record: dict) -> Response:
    extra = {key: record[key] for key in ("unsubscribedBy", "unsubscribedAt") if key in record}
    return json_response({"subscription": subscription_view(record), **extra})


@bp.post("/unsubscribe")
def unsubscribe() -> Response:
    """The person unsubscribes themselves: ``{list_id, contact_id | email}``; answers with the
    subscription plus ``unsubscribedBy: "person"`` and ``unsubscribedAt``."""
    list_id, contact_id, email = _person_and_list(read_object())
    try:
        record = consent.person_unsubscribes(sandbox_state(), list_id, contact_id, email=email)
    except consent.NotFoundError as error:
        return error_response(404, str(error))
    return _subscription_answer(record)


@bp.post("/remove-by-hand")
def remove_by_hand() -> Response:
    """The account owner takes a contact off a list in iContact's screens (the subscription
    is deleted; nobody opted out): ``{list_id, contact_id | email}``."""
    list_id, contact_id, email = _person_and_list(read_object())
    try:
        record = by_hand.removes_by_hand(sandbox_state(), list_id, contact_id, email=email)
    except consent.NotFoundError as error:
        return error_response(404, str(error))
    return json_response({"removed": subscription_view(record)})


@bp.post("/add-by-hand")
def add_by_hand() -> Response:
    """The account owner puts someone on a list by hand: ``{list_id, email}``."""
    body = read_object()
    try:
        record = by_hand.adds_by_hand(
            sandbox_state(), _required(body, "list_id"), _required(body, "email")
        )
    except consent.NotFoundError as error:
        return error_response(404, str(error))
    return json_response({"subscription": subscription_view(record)})


@bp.post("/confirm")
def confirm() -> Response:
    """The person confirms a pending (double opt-in) subscription: ``{list_id, contact_id |
    email}``; 409 when it is not pending."""
    list_id, contact_id, email = _person_and_list(read_object())
    try:
        record = consent.person_confirms(sandbox_state(), list_id, contact_id, email=email)
    except consent.NotFoundError as error:
        return error_response(404, str(error))
    except ValueError as error:
        return error_response(409, str(error))
    return _subscription_answer(record)


@bp.post("/contact-status")
def contact_status() -> Response:
    """Set a contact's status as iContact would (a bounce, "do not contact"):
    ``{status, contact_id | email, username?}``; answers ``{"contact": {...}}`` as read."""
    body = read_object()
    status = _required(body, "status")
    if status not in CONTACT_STATUSES:
        return error_response(400, f"status must be one of {', '.join(CONTACT_STATUSES)}")
    contact_id, email = _optional(body, "contact_id"), _optional(body, "email")
    if (contact_id is None) == (email is None):
        return error_response(400, "give either contact_id or email")
    try:
        contact = consent.set_contact_status(
            sandbox_state(),
            status,
            contact_id,
            email=email,
            username=_optional(body, "username"),
        )
    except consent.NotFoundError as error:
        return error_response(404, str(error))
    except ValueError as error:
        return error_response(400, str(error))
    return json_response({"contact": contact})


@bp.get("/consent")
def consent_log() -> Response:
    """``{"overrides": [...], "refusals": [...]}``: see :mod:`addon.sandbox.consent`."""
    state = sandbox_state()
    with state.lock:
        return json_response(state.consent.as_dict())


@bp.get("/state")
def dump_state() -> Response:
    """Accounts, lists, contacts, subscriptions, faults and call counters."""
    return json_response(sandbox_state().dump())


@bp.post("/reset")
def reset() -> Response:
    """Forget everything (a state file is emptied too)."""
    sandbox_state().reset()
    return json_response({"reset": True})
