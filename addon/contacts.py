"""The contact-id cache: what the provider calls a customer, remembered per integration."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select

from .models import CachedContact
from .state import session


def known_contacts(integration_id: int, email_keys: Iterable[str]) -> dict[str, str]:
    """Cached ``{email_key: contact_id}`` for the given lower-cased emails."""
    keys = sorted(set(email_keys))
    found: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        rows = session().execute(
            select(CachedContact.email_key, CachedContact.contact_id).where(
                CachedContact.integration_id == integration_id,
                CachedContact.email_key.in_(keys[start : start + 500]),
            )
        )
        found.update({email: contact_id for email, contact_id in rows})
    return found


def remember_contacts(
    integration_id: int, learned: dict[str, str], forgotten: Iterable[str], known: dict[str, str]
) -> None:
    """Store new or changed ids and drop stale ones (in the caller's transaction)."""
    db = session()
    stale = set(forgotten) | {e for e, cid in learned.items() if e in known and known[e] != cid}
    if stale:
        db.execute(
            delete(CachedContact).where(
                CachedContact.integration_id == integration_id,
                CachedContact.email_key.in_(sorted(stale)),
            )
        )
    for email, contact_id in learned.items():
        if email not in known or email in stale:
            db.add(
                CachedContact(integration_id=integration_id, email_key=email, contact_id=contact_id)
            )
