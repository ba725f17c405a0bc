"""Who of some customers is on some iContact lists, read in pages for a check against the
account: every contact of the client folder once, then each list's subscriptions.

Paging beats a lookup per customer as soon as there are more customers than pages: 10,000
contacts are 20 pages of 500, where lookups would be 10,000 calls (almost three hours at the
default allowance of 60 a minute).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..base import MEMBER, OPTED_OUT, Membership
from .client import IContactClient

#: Records per page: the largest page the public clients ask iContact for (its staff asked
#: for at most 500); a server that serves fewer is paged by what it sent.
PAGE_SIZE = 500

#: Contact statuses under which iContact mails nobody, whatever the subscriptions say: the
#: person (or the account owner for them) said no, or the address bounces.
NOT_TO_BE_MAILED = ("donotcontact", "bounced")


def read_members(
    client: IContactClient, list_ids: Iterable[str], emails: Iterable[str]
) -> Membership:
    """Where each of ``emails`` stands on each of ``list_ids``.

    Returns:
        ``Membership``: per list, ``{email_key: "member" | "opted_out"}`` for the customers
        on it (subscribed or pending: member; unsubscribed, or a contact marked do-not-contact
        or bounced: opted out), and the calls it took.

    Raises:
        ProviderError: as :meth:`IContactClient.request` does.
    """
    before = len(client.transcript)
    wanted = {email.lower() for email in emails}
    contacts: dict[str, tuple[str, str]] = {}
    for record in _pages(client, "/contacts", {"status": "total"}, "contacts"):
        key = str(record.get("email") or "").lower()
        if key in wanted and record.get("status") != "deleted":
            contacts[str(record["contactId"])] = (key, str(record.get("status") or "normal"))
    unreachable = {key for key, status in contacts.values() if status in NOT_TO_BE_MAILED}
    lists: dict[str, dict[str, str]] = {}
    for list_id in list_ids:
        held = dict.fromkeys(unreachable, OPTED_OUT)
        params = {"listId": list_id}
        for subscription in _pages(client, "/subscriptions", params, "subscriptions"):
            found = contacts.get(str(subscription.get("contactId")))
            if found is None or found[0] in unreachable:
                continue
            status = subscription.get("status")
            if status == "unsubscribed":
                held[found[0]] = OPTED_OUT
            elif status in ("normal", "pending"):
                held[found[0]] = MEMBER
        lists[str(list_id)] = held
    return Membership(lists, calls=len(client.transcript) - before)


def _pages(
    client: IContactClient, path: str, params: dict[str, str], key: str
) -> Iterator[dict[str, Any]]:
    """Every record of a collection, a page at a time."""
    offset = 0
    while True:
        body = client.request(
            "GET",
            client.folder_path(path),
            params={**params, "limit": PAGE_SIZE, "offset": offset},
        )
        records = body.get(key) or []
        yield from records
        offset += len(records)
        total = body.get("total")
        if not records or (isinstance(total, int) and offset >= total):
            return
