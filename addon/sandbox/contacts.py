"""``/icp/a/{aid}/c/{cfid}/contacts``: search, create-or-overwrite, update, replace, delete.

A collection POST whose email already exists *overwrites* that contact: every field the
record leaves out becomes blank (MZ README). The simulator does exactly that so a client
that skips the look-up-then-update dance loses data here as it would for real.

Contact statuses: ``normal``, ``bounced``, ``donotcontact``, ``pending``, ``invitable`` (PHP,
MZ, PD); a client may set only ``normal`` or ``donotcontact`` (recorded 400), and cannot change
a status away from ``donotcontact``, ``pending`` or ``invitable`` (AE-data-model): a member
POST/PUT that tries answers 400, a collection POST keeps the status, saves the other fields and
warns. ``bounced`` is set by the service (here: the page or ``POST /icp/_sandbox/contact-status``)
and a client may set such a contact back to ``normal``. ``deleted`` is what DELETE does: the
contact is gone (404). Searches: ``status=total|unlisted``, a status value, any field, and the
comparison searches ``{field}SearchType=gt|gte|lt|lte|eq|bet`` (e.g. ``createDate=2024-05-01&
createDateSearchType=gt``); ``modifyDate`` is no documented field, so it is an unknown term.
"""

from __future__ import annotations

from functools import partial

from flask import Response, abort, request

from . import messages
from .accounts import Account
from .context import current_account, sandbox_state
from .guard import scoped_blueprint
from .records import (
    CONTACT_FIELDS,
    CONTACT_READ_ONLY,
    LOCKED_CONTACT_STATUSES,
    NOT_A_FIELD,
    SETTABLE_CONTACT_STATUSES,
    BadValue,
    accepted,
    as_text,
    contact_echo,
    contact_read,
    create_date,
    is_valid_email,
    sort_fields,
)
from .replies import error_response, json_response, search_response
from .resources import add_record_routes, changed_response, existing, usable
from .state import SandboxState

bp = scoped_blueprint("icp_contacts", "contacts")
_SEARCHABLE = (*CONTACT_FIELDS, *CONTACT_READ_ONLY)


def check_contact(item: object, *, require_email: bool) -> tuple[dict, list[str], str | None]:
    """Sort one incoming contact into usable values, warnings and a fatal problem.

    Returns:
        ``(values, warnings, problem)``; when ``problem`` is set the record must not be saved.
    """
    values, warnings, problem = sort_fields(item, _contact_value, CONTACT_READ_ONLY)
    if problem:
        return {}, [], problem
    if (require_email or "email" in values) and not values.get("email"):
        return {}, [], messages.missing_field("email")
    if "email" in values and not is_valid_email(values["email"]):
        return {}, [], messages.BAD_EMAIL
    return values, warnings, None


def _contact_value(key: str, raw: object) -> object:
    if key in CONTACT_FIELDS and not isinstance(raw, (dict, list)):
        return as_text(raw)
    if key == "status":
        if raw not in SETTABLE_CONTACT_STATUSES:
            raise BadValue(messages.BAD_CONTACT_STATUS)
        return raw
    return NOT_A_FIELD


def save_contacts(
    state: SandboxState, account: Account, items: list
) -> tuple[list[dict], list[str]]:
    """Create each new email's contact and overwrite each existing one (omitted fields blank).

    Returns:
        ``(echoed contacts, warnings)``; rejected records only add a warning.
    """
    saved: list[dict] = []
    warnings: list[str] = []
    with state.lock:
        for values in accepted(items, partial(check_contact, require_email=True), warnings):
            contact_id = account.emails.get(values["email"].lower())
            if contact_id is None:
                record = _new_contact(state, account, values)
            else:
                record = account.contacts[contact_id]
                record.update({name: values.get(name) for name in CONTACT_FIELDS})
                wanted = values.get("status", record["status"])
                if _status_locked(record, wanted):
                    text = messages.STATUS_KEPT.format(
                        email=record["email"], status=record["status"]
                    )
                    warnings.append(text)
                else:
                    record["status"] = wanted
            saved.append(contact_echo(record))
    return saved, warnings


def _new_contact(state: SandboxState, account: Account, values: dict) -> dict:
    # Unset fields are stored as None: reads show null, write echoes show "".
    record: dict = {"contactId": state.next_id("contact")}
    record.update({name: values.get(name) for name in CONTACT_FIELDS})
    record.update(
        createDate=create_date(state.now()), bounceCount=None, status=values.get("status", "normal")
    )
    account.contacts[record["contactId"]] = record
    account.emails[record["email"].lower()] = record["contactId"]
    return record


def change_contact(
    state: SandboxState, account: Account, contact_id: str, body: dict, *, replace: bool
) -> tuple[dict, list[str]]:
    """Update (POST: only the supplied fields) or replace (PUT: the rest blank) one contact.

    Returns:
        ``(echoed contact, warnings)``; aborts with 404/400 on a missing contact or bad value.
    """
    values, warnings = usable(check_contact(body, require_email=replace))
    with state.lock:
        record = existing(account.contacts, contact_id)
        if _status_locked(record, values.get("status", record["status"])):
            abort(error_response(400, messages.STATUS_LOCKED.format(status=record["status"])))
        if "email" in values:
            owner = account.emails.get(values["email"].lower(), contact_id)
            if owner != contact_id:
                abort(error_response(400, messages.EMAIL_TAKEN))
            del account.emails[record["email"].lower()]
            account.emails[values["email"].lower()] = contact_id
        if replace:
            record.update({name: None for name in CONTACT_FIELDS})
        record.update(values)
        return contact_echo(record), warnings


def _status_locked(record: dict, wanted: str) -> bool:
    return wanted != record["status"] and record["status"] in LOCKED_CONTACT_STATUSES


def listed_contact_ids(account: Account) -> set[str]:
    """Contacts that count as "on a list": at least one subscription in status normal."""
    return {cid for (_, cid), sub in account.subscriptions.items() if sub["status"] == "normal"}


def _select(account: Account, status: str | None, email: str | None = None) -> list[dict]:
    if email and "*" not in email:
        # The service looks an email up by index; so does the simulator, or a search by email
        # would walk every contact. The query still filters these candidates.
        found = account.emails.get(email.lower())
        records = [account.contacts[found]] if found in account.contacts else []
    else:
        records = list(account.contacts.values())
    if status in (None, ""):
        listed = listed_contact_ids(account)
        records = [r for r in records if r["contactId"] in listed]
    elif status == "unlisted":
        listed = listed_contact_ids(account)
        records = [r for r in records if r["contactId"] not in listed]
    elif status != "total":
        records = [r for r in records if r["status"] == status]
    return [contact_read(r) for r in records]


@bp.get("")
@bp.get("/")
def list_contacts() -> Response:
    """Search contacts. Without ``status`` only contacts on some list are returned;
    ``status=total`` returns all and ``status=unlisted`` those on no list (KB-CON)."""
    state = sandbox_state()
    with state.lock:
        email = None if "emailSearchType" in request.args else request.args.get("email")
        records = _select(current_account(), request.args.get("status"), email)
    return search_response("contacts", records, _SEARCHABLE, handled=("status",))


# Create or overwrite contacts (``contacts`` is null when none was accepted, recorded); one contact.
add_record_routes(bp, "contact", "contacts", save_contacts, contact_read)


@bp.post("/<contact_id>")
@bp.put("/<contact_id>")
def change_one_contact(contact_id: str) -> Response:
    """POST changes only the supplied fields (status only to normal or donotcontact); PUT
    replaces the contact: email is required, every other omitted field becomes blank."""
    return changed_response("contact", change_contact, contact_id, replace=request.method == "PUT")


@bp.delete("/<contact_id>")
def delete_contact(contact_id: str) -> Response:
    """Delete the contact and its subscriptions."""
    state = sandbox_state()
    account = current_account()
    with state.lock:
        record = account.contacts.pop(contact_id, None)
        if record is None:
            return error_response(404, messages.NOT_FOUND)
        account.emails.pop(record["email"].lower(), None)
        for key in [key for key in account.subscriptions if key[1] == contact_id]:
            del account.subscriptions[key]
    return json_response([])
