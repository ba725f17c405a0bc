"""The contact-id cache: what the provider calls a customer, remembered per integration."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select

from ..store.among import among
from ..store.bookkeeping import CachedContact
from ..store.upsert import upsert
from .context import Context


def known_contacts(ctx: Context, integration_id: int, email_keys: Iterable[str]) -> dict[str, str]:
    """Cached ``{email_key: contact_id}`` for the given lower-cased emails."""
    rows = ctx.session.connection().execute(
        select(CachedContact.email_key, CachedContact.contact_id).where(
            CachedContact.integration_id == integration_id,
            among(CachedContact.email_key, set(email_keys), ctx.session.get_bind().dialect.name),
        )
    )
    return {email: contact_id for email, contact_id in rows}


def remember_contacts(
    ctx: Context,
    integration_id: int,
    learned: dict[str, str],
    forgotten: Iterable[str],
    known: dict[str, str],
) -> None:
    """Store new or changed ids and drop stale ones (in the caller's transaction).

    New and changed ids are written in one statement, as an upsert where the database has
    one: another worker may have learned the same customer a moment earlier.
    """
    db = ctx.session
    changed = {e for e, cid in learned.items() if e in known and known[e] != cid}
    gone = set(forgotten) | changed
    if gone:
        db.execute(
            delete(CachedContact).where(
                CachedContact.integration_id == integration_id,
                CachedContact.email_key.in_(sorted(gone)),
            )
        )
    rows = [
        {"integration_id": integration_id, "email_key": email, "contact_id": contact_id}
        for email, contact_id in learned.items()
        if known.get(email) != contact_id
    ]
    if rows:
        key = [CachedContact.integration_id, CachedContact.email_key]
        db.execute(upsert(db.get_bind().dialect.name, CachedContact, key, ["contact_id"]), rows)
