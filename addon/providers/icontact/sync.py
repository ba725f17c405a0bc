"""Knowing an iContact account's contacts before they are needed.

A full sync pages through every contact (``GET /contacts?status=total``), so the engine's cache
holds each email the account has. A batch then checks only which contacts iContact created
since the sync's mark (``createDate=<mark>&createDateSearchType=gte``, one call), instead of
looking every customer the cache has not seen up by email (one call each): a customer in
neither is new, and is created without a lookup.

Both searches are trusted only when iContact answers them without a warning: it ignores a term
it does not know and says so in a warning (recorded for ``unlisted=true``), and an ignored
``status=total`` or ``createDateSearchType`` would make the answer miss contacts. Posting a
contact that exists overwrites it (its omitted fields blank), so a doubtful answer means the
per-email lookups, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..base import ContactsPage
from . import consent
from .client import IContactClient

if TYPE_CHECKING:
    from ...settings import Settings

#: Contacts read per page of a check for new contacts: those created in a batch or two.
DELTA_PAGE = 500
#: Each page after the first starts up to this many contacts early (a tenth of a page at
#: most), so a contact deleted while the sync pages (which moves every later one forward by
#: one) is not skipped at a page boundary.
OVERLAP = 10


def contact_pages(settings: Settings, client: IContactClient) -> Iterator[ContactsPage]:
    """Every contact of the account, ``ADDON_ICONTACT_PAGE_SIZE`` at a time, oldest first.

    Yields:
        One :class:`ContactsPage` per call; its mark is the newest ``createDate`` read so far.
    """
    yield from _pages(client, {}, settings.icontact_page_size, None)


def created_since(
    client: IContactClient, mark: str, calls: list[dict[str, Any]]
) -> ContactsPage | None:
    """The contacts iContact created at or after ``mark`` (``""``: every contact).

    Args:
        calls: the calls made are added here, for the batch's transcript.

    Returns:
        Their ids by lower-cased email and the new mark, or None when iContact ignored the
        comparison search (it answered with a warning): the caller looks each email up.
    """
    terms = {"createDate": mark, "createDateSearchType": "gte"} if mark else {}
    found: dict[str, str] = {}
    records: dict[str, dict[str, Any]] = {}
    newest: str | None = mark or None
    start = len(client.transcript)
    try:
        for page in _pages(client, terms, DELTA_PAGE, newest):
            if not page.complete:
                return None
            found.update(page.contacts)
            records.update(page.records)
            newest = page.mark
    finally:
        calls += client.transcript[start:]
    return ContactsPage(found, newest or "", records=records)


def _pages(
    client: IContactClient, terms: dict[str, str], size: int, mark: str | None
) -> Iterator[ContactsPage]:
    offset = 0
    while True:
        params = {"status": "total", **terms, "orderby": "contactId", "limit": size}
        body = client.request(
            "GET", client.folder_path("/contacts"), params={**params, "offset": offset}
        )
        page = body.get("contacts") or []
        for contact in page:
            created = contact.get("createDate")
            if created and (mark is None or str(created) > mark):
                mark = str(created)
        yield ContactsPage(
            {str(c["email"]).lower(): _cached_id(c) for c in page if c.get("email")},
            mark,
            complete=not body.get("warnings"),
            records={str(c["email"]).lower(): c for c in page if c.get("email")},
        )
        total = int(body.get("total") or 0)
        if not page or offset + len(page) >= total:
            return
        # iContact may serve fewer than asked (a lower cap): step by what it sent.
        offset += len(page) - min(OVERLAP, len(page) // 10)


def _cached_id(contact: dict[str, Any]) -> str:
    # A contact iContact will not mail (donotcontact, bounced...) is cached without its id: it
    # exists (never to be created over), and a batch looks it up, so the consent guard sees
    # its status before any subscribe.
    return str(contact["contactId"]) if consent.subscribable(contact) else ""


def new_among(batch: Any, emails: list[str]) -> list[str]:
    """The emails of ``batch`` (a :class:`.batch._Batch` handed ``since``) that still need a
    lookup: none when the check for new contacts worked, every one when iContact ignored it.

    Contacts created since the mark are learned on the way; the rest of ``emails`` are new.
    """
    if batch.since is None or not emails:
        return emails
    calls: list[dict[str, Any]] = []
    delta = created_since(batch.client, batch.since, calls)
    batch.result.calls += calls
    for email in emails:
        # Each customer's log entry shows the shared check, not its whole answer.
        batch.lookups.setdefault(email, []).extend(
            {**{k: v for k, v in c.items() if k != "response"}, "shared_by": len(emails)}
            for c in calls
        )
    if delta is None:
        batch.result.searchable = False
        return emails
    batch.result.mark = delta.mark
    for email in emails:
        record = delta.records.get(email)
        if record is not None:
            batch.contacts[email] = record  # its status, for the consent guard
            batch.learn(email, str(record["contactId"]))
    return []
