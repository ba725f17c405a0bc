"""What the people behind the contacts do, and what the simulator notes about consent.

A person unsubscribes from a list (a link in a mail; here a button on the simulator's page or
``POST /icp/_sandbox/unsubscribe``), confirms a pending double opt-in subscription, or gets
marked ``bounced`` / ``donotcontact``. Over the API both kinds of unsubscribe look the same
(status ``unsubscribed``), so the simulator keeps, beside each record, who unsubscribed it
and when (``unsubscribedBy``: ``person`` or ``api``; ``unsubscribedAt``), never sent on the
wire. From that it keeps an audit a test can assert on:

- ``overrides``: an API write that put a person's own unsubscribe back to ``normal`` or
  ``pending`` (the service allows it; the consent is the client's to respect);
- ``refusals``: subscription records refused because the contact is ``donotcontact`` or
  ``bounced``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import messages
from .records import CONTACT_STATUSES, UNSUBSCRIBABLE_CONTACT_STATUSES, add_date, contact_read

if TYPE_CHECKING:
    from .state import Account, SandboxState

#: Subscription statuses under which the service would mail the contact (or ask it to confirm).
SUBSCRIBING_STATUSES = ("normal", "pending")


class NotFoundError(LookupError):
    """No such list, contact or subscription."""


@dataclass
class ConsentLog:
    """Consent events seen by the simulator, oldest first (JSON-ready dicts)."""

    overrides: list[dict] = field(default_factory=list)
    refusals: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[dict]]:
        """Both lists, copied."""
        return {
            "overrides": [dict(entry) for entry in self.overrides],
            "refusals": [dict(entry) for entry in self.refusals],
        }


# -- API writes ----------------------------------------------------------------------------------


def refusal(
    state: SandboxState, account: Account, list_id: str, contact_id: str, status: str
) -> str | None:
    """The warning when a subscription to ``status`` must be refused for the contact's status.

    The refusal is logged. Returns ``None`` when the record may be saved.
    """
    contact = account.contacts[contact_id]
    if status not in SUBSCRIBING_STATUSES:
        return None
    if contact["status"] not in UNSUBSCRIBABLE_CONTACT_STATUSES:
        return None
    state.consent.refusals.append(
        {
            "at": add_date(state.now()),
            "username": account.username,
            "listId": list_id,
            "contactId": contact_id,
            "email": contact["email"],
            "contactStatus": contact["status"],
            "status": status,
        }
    )
    return messages.NOT_SUBSCRIBABLE.format(contact_id=contact_id, status=contact["status"])


def api_sets_status(state: SandboxState, account: Account, record: dict, status: str) -> None:
    """Apply an API client's status to a stored subscription, keeping who unsubscribed it."""
    previous = record["status"]
    if status == "unsubscribed" and previous != "unsubscribed":
        record.update(unsubscribedBy="api", unsubscribedAt=add_date(state.now()))
    elif status in SUBSCRIBING_STATUSES and previous == "unsubscribed":
        if record.get("unsubscribedBy") == "person":
            state.consent.overrides.append(
                {
                    "at": add_date(state.now()),
                    "username": account.username,
                    "listId": record["listId"],
                    "contactId": record["contactId"],
                    "email": account.contacts[record["contactId"]]["email"],
                    "unsubscribedAt": record.get("unsubscribedAt"),
                    "status": status,
                }
            )
        record.pop("unsubscribedBy", None)
        record.pop("unsubscribedAt", None)
    record["status"] = status


# -- the person's own actions --------------------------------------------------------------------


def find_subscription(
    state: SandboxState, list_id: str, contact_id: str | None = None, email: str | None = None
) -> tuple[Account, dict]:
    """The stored subscription of a contact (by id or email) to ``list_id``.

    Raises:
        NotFoundError: if the list, the contact or the subscription does not exist.
    """
    account = state.account_for_list(list_id)
    if account is None:
        raise NotFoundError("No such list")
    if contact_id is None and email is not None:
        contact_id = account.emails.get(email.lower())
    record = account.subscriptions.get((str(list_id), str(contact_id)))
    if record is None:
        raise NotFoundError("That contact has no subscription to that list")
    return account, record


def person_unsubscribes(
    state: SandboxState, list_id: str, contact_id: str | None = None, *, email: str | None = None
) -> dict:
    """The person leaves the list themselves (a click on an unsubscribe link).

    Returns:
        The stored subscription record (wire fields plus ``unsubscribedBy``/``unsubscribedAt``).

    Raises:
        NotFoundError: if there is no such subscription.
    """
    with state.lock:
        _, record = find_subscription(state, list_id, contact_id, email)
        record.update(
            status="unsubscribed", unsubscribedBy="person", unsubscribedAt=add_date(state.now())
        )
        state.autosave()
        return dict(record)


def person_confirms(
    state: SandboxState, list_id: str, contact_id: str | None = None, *, email: str | None = None
) -> dict:
    """The person follows the double opt-in link: a ``pending`` subscription becomes ``normal``.

    Raises:
        NotFoundError: if there is no such subscription.
        ValueError: if the subscription is not pending.
    """
    with state.lock:
        _, record = find_subscription(state, list_id, contact_id, email)
        if record["status"] != "pending":
            raise ValueError(f"The subscription is {record['status']}, not pending")
        record.update(status="normal", confirmedAt=add_date(state.now()))
        state.autosave()
        return dict(record)


def find_contact(
    state: SandboxState,
    contact_id: str | None = None,
    *,
    email: str | None = None,
    username: str | None = None,
) -> tuple[Account, dict]:
    """A contact by id, or by email (within ``username``'s account when given).

    Raises:
        NotFoundError: if no contact matches.
        ValueError: if an email without a username matches contacts of several accounts.
    """
    accounts = list(state.accounts.values())
    if username is not None:
        accounts = [a for a in accounts if a.username == username]
    if contact_id is not None:
        found = [
            (a, a.contacts[str(contact_id)]) for a in accounts if str(contact_id) in a.contacts
        ]
    else:
        key = (email or "").lower()
        found = [(a, a.contacts[a.emails[key]]) for a in accounts if key in a.emails]
    if not found:
        raise NotFoundError("No such contact")
    if len(found) > 1:
        raise ValueError("Several accounts have a contact with that email: give username")
    return found[0]


def set_contact_status(
    state: SandboxState,
    status: str,
    contact_id: str | None = None,
    *,
    email: str | None = None,
    username: str | None = None,
) -> dict:
    """Give a contact any status the service knows, as iContact itself would (a bounce, a
    complaint, the account owner's "do not contact"); ``bounced`` also counts one bounce.

    Returns:
        The contact as an API read returns it.

    Raises:
        ValueError: on an unknown status or an ambiguous email.
        NotFoundError: if no contact matches.
    """
    if status not in CONTACT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(CONTACT_STATUSES)}")
    with state.lock:
        _, record = find_contact(state, contact_id, email=email, username=username)
        record["status"] = status
        if status == "bounced":
            record["bounceCount"] = str(int(record.get("bounceCount") or 0) + 1)
        state.autosave()
        return contact_read(record)
