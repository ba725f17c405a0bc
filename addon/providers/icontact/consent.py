"""Whom iContact lets the engine subscribe: what its statuses mean, and the plain words of an
add that is skipped because the person opted out.

iContact keeps two statuses (reference §6). A *contact's* status is about all mail: only
``normal`` and ``pending`` (must confirm first) take mail; ``bounced``, ``donotcontact``,
``invitable`` (must be invited first) and ``deleted`` do not, and the engine never subscribes
them. A *subscription's* status is about one list: ``unsubscribed`` reads the same whether the
person left or the engine removed them, so only the engine's own memory
(:attr:`~addon.providers.base.Action.removed_by_engine`) lets an add put someone back.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..base import Action, Outcome

if TYPE_CHECKING:
    from .client import IContactClient

#: Subscriptions per page of a read (the largest page the public clients ask for).
PAGE = 500

#: Contact statuses under which iContact mails the person (``pending``: once they confirm).
SUBSCRIBABLE = ("normal", "pending")

#: Why a contact in another status is not subscribed, in a merchant's words.
_CONTACT_REASONS = {
    "bounced": "their address bounced, so iContact marks them bounced",
    "donotcontact": "iContact marks them “do not contact”",
    "deleted": "their contact was deleted in iContact",
    "invitable": "iContact must send them an invitation first",
}


def subscribable(contact: dict[str, Any] | None) -> bool:
    """Whether iContact's status of ``contact`` lets it be put on a list (no status: a record
    that never had one, as ``normal``)."""
    status = (contact or {}).get("status") or "normal"
    return status in SUBSCRIBABLE


def unsubscribed(client: IContactClient, list_ids: Iterable[str]) -> set[tuple[str, str]]:
    """The ``(list_id, contact_id)`` pairs unsubscribed from any of ``list_ids``.

    One read of the account's unsubscribes serves every list of a batch while it takes no more
    pages than there are lists; else each list is read on its own. Either way a batch costs a
    few calls, not one per delivery.
    """
    lists = {str(list_id) for list_id in list_ids}
    found: set[tuple[str, str]] = set()

    def take(records: list[dict[str, Any]]) -> None:
        found.update(
            (str(s.get("listId")), str(s.get("contactId")))
            for s in records
            if str(s.get("listId")) in lists
        )

    if len(lists) > 1:
        for records, total in client.subscription_pages("unsubscribed", page=PAGE):
            if math.ceil(total / PAGE) > len(lists):
                found.clear()
                break
            take(records)
        else:
            return found
    for list_id in sorted(lists):
        for records, _ in client.subscription_pages("unsubscribed", list_id, page=PAGE):
            take(records)
    return found


def _list(act: Action) -> str:
    return act.list_name or f"list {act.list_id}"


def refused_contact(act: Action, contact: dict[str, Any]) -> Outcome:
    """The skipped outcome of an add whose contact iContact will not mail."""
    status = str(contact.get("status"))
    reason = _CONTACT_REASONS.get(status, f"iContact marks them {status}")
    return Outcome(
        "skipped",
        f"skipped: {act.customer['email']} was not added to {_list(act)}: {reason}",
        {"contactId": str(contact.get("contactId") or ""), "consent": status},
    )


def opted_out(act: Action, contact_id: str, today: dt.date | None = None) -> Outcome:
    """The skipped outcome of an add whose person unsubscribed themselves from the list.

    iContact does not say when they did; the date is the day it was seen.
    """
    seen = today or dt.datetime.now(dt.UTC).date()
    return Outcome(
        "skipped",
        f"skipped: {act.customer['email']} unsubscribed from {_list(act)} in iContact "
        f"(seen on {seen:%Y-%m-%d}); not added again",
        {"contactId": contact_id, "consent": "unsubscribed"},
    )


def awaiting_confirmation(act: Action, contact_id: str) -> Outcome:
    """The skipped outcome of a double opt-in add already waiting for the person."""
    return Outcome(
        "skipped",
        f"skipped: {act.customer['email']} has not yet confirmed joining {_list(act)}; "
        "iContact asked them already",
        {"contactId": contact_id, "consent": "pending"},
    )


def already_subscribed(act: Action, contact_id: str) -> Outcome:
    """The outcome of a double opt-in add for someone already on the list: nothing to ask."""
    return Outcome(
        "success",
        f"{act.customer['email']} is already on {_list(act)}; no confirmation asked again",
        {"contactId": contact_id},
    )
