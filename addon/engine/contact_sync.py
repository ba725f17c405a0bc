"""Knowing an account's contacts before a burst needs them (issue 18).

A provider that can list its contacts (``Provider.sync_contacts``) has them copied into the
contact cache when an integration connects and every ``ADDON_CONTACT_SYNC_HOURS``. Once a full
sync ends, the cache holds every contact the account had; each batch then hands the provider
the sync's mark, and one check for contacts created since replaces a lookup per new customer:
at 60 calls a minute, the lookups of a burst of new customers were most of the allowance.

The sync runs on the worker (a job of its own, or before an integration's first batch) under
a Redis lock per integration, paced by the same shared allowance as every other call.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import RedisError
from sqlalchemy import delete, or_, select, update

from ..providers import ProviderError, get_provider
from ..store.bookkeeping import CachedContact, ContactSync
from ..store.models import CONNECTED, Integration
from .contacts import known_contacts, remember_contacts
from .context import Context
from .queue import redis_key, safe_enqueue

log = logging.getLogger("addon.sync")

#: How often, and how many times, a drain looks whether another worker's first sync of the
#: integration has ended before it goes on without one (then looking customers up).
_WAIT_STEP_SECONDS, _WAIT_STEPS = 0.5, 60


def sync_contacts(ctx: Context, integration: Integration, client=None, wait: bool = False) -> str:
    """Copy every contact of the integration's account into the contact cache.

    Args:
        client: the provider client to call with (default: a new one, paced by the allowance).
        wait: when another worker is syncing the integration, wait for it to end.

    Returns:
        What was done, in words.

    Raises:
        ProviderError: the provider refused or failed; what was read so far stays cached.
    """
    from .integrations import client_for  # integrations imports this module

    provider = get_provider(integration.provider)
    if provider.sync_contacts is None:
        return f"{provider.display_name} cannot list its contacts"
    integration_id = integration.id
    with _sync_lock(ctx, integration_id, wait) as mine:
        if not mine or (wait and _synced(ctx, integration_id)):
            return "synced by another worker"
        client = client or client_for(ctx, integration, max_wait=None)
        complete, mark, count = True, None, 0
        for page in provider.sync_contacts(ctx.settings, client):
            known = known_contacts(ctx, integration_id, page.contacts)
            remember_contacts(ctx, integration_id, page.contacts, (), known)
            ctx.session.commit()
            complete, mark = complete and page.complete, page.mark
            count += len(page.contacts)
        if not complete:
            # Its answer may lack contacts: an email it did not list may exist after all.
            log.warning("integration %s: the contact list was partial", integration_id)
            return f"read {count} contacts, not all of them: customers are looked up"
        _record_sync(ctx, integration_id, mark or "")
        ctx.session.commit()
    return f"synced {count} contacts"


def ensure_synced(ctx: Context, integration: Integration, client) -> bool:
    """Before a drain claims: sync the integration's contacts if no sync ever ended (or wait
    for the worker syncing them), so a burst's first batches need no lookups either.

    Returns:
        Whether batches may skip the lookups: a sync ended and the provider answers the check
        for new contacts.
    """
    if get_provider(integration.provider).sync_contacts is None:
        return False
    if not _synced(ctx, integration.id):
        _first_sync(ctx, integration, client)
    mark = since_mark(ctx, integration.id)
    ctx.session.commit()  # no snapshot held through the drain
    return mark is not None


def _first_sync(ctx: Context, integration: Integration, client) -> None:
    try:
        summary = sync_contacts(ctx, integration, client, wait=True)
        log.info("integration %s: %s", integration.id, summary)
    except ProviderError as exc:
        # The batches go on with lookups; the scheduled sync tries again.
        ctx.session.rollback()
        log.warning("integration %s: contact sync failed: %s", integration.id, exc)


def since_mark(ctx: Context, integration_id: int) -> str | None:
    """The mark a batch hands the provider (``since=``), or None: look customers up."""
    row = ctx.session.get(ContactSync, integration_id)
    if row is None or row.synced_at is None or not row.searchable:
        return None
    return row.mark or ""


def note_check(ctx: Context, integration_id: int, mark: str | None, searchable: bool) -> None:
    """Keep what a batch's check for new contacts learned (in the caller's transaction): the
    newer mark, or that the provider ignored the check (lookups from now on)."""
    if not searchable:
        ctx.session.execute(
            update(ContactSync)
            .where(ContactSync.integration_id == integration_id)
            .values(searchable=False)
        )
        log.warning("integration %s: the check for new contacts was ignored", integration_id)
    elif mark:
        # The newest wins: another worker's batch may have moved it further already.
        ctx.session.execute(
            update(ContactSync)
            .where(
                ContactSync.integration_id == integration_id,
                or_(ContactSync.mark.is_(None), ContactSync.mark < mark),
            )
            .values(mark=mark)
        )


def forget_contacts(ctx: Context, integration_id: int) -> None:
    """Drop the cache and its sync (another account now): in the caller's transaction."""
    db = ctx.session
    db.execute(delete(CachedContact).where(CachedContact.integration_id == integration_id))
    db.execute(delete(ContactSync).where(ContactSync.integration_id == integration_id))


def enqueue_sync(ctx: Context, integration_id: int) -> None:
    """Ask a worker to sync the integration's contacts (at connect, and when due)."""
    safe_enqueue(
        ctx.queue,
        "addon.engine.jobs.sync_integration_contacts",
        integration_id,
        description=f"addon: sync the contacts of integration #{integration_id}",
    )


def sync_due(ctx: Context, integration_id: int) -> bool:
    """Whether the integration's contacts were never synced, or not for
    ``ADDON_CONTACT_SYNC_HOURS`` (the sweeper may ask for one sync several times)."""
    row = ctx.session.get(ContactSync, integration_id)
    if row is None or row.synced_at is None:
        return True
    hours = ctx.settings.contact_sync_hours
    return bool(hours) and row.synced_at < ctx.clock.now() - dt.timedelta(hours=hours)


def due_syncs(ctx: Context) -> list[int]:
    """Connected integrations whose last full sync is older than ``ADDON_CONTACT_SYNC_HOURS``
    (none when it is 0); those never synced are synced by their connect or first drain."""
    hours = ctx.settings.contact_sync_hours
    if not hours:
        return []
    before = ctx.clock.now() - dt.timedelta(hours=hours)
    return list(
        ctx.session.scalars(
            select(ContactSync.integration_id)
            .join(Integration, Integration.id == ContactSync.integration_id)
            .where(Integration.status == CONNECTED, ContactSync.synced_at < before)
        )
    )


def _synced(ctx: Context, integration_id: int) -> bool:
    row = ctx.session.get(ContactSync, integration_id)
    ctx.session.commit()  # no snapshot held while waiting for another worker's sync
    return row is not None and row.synced_at is not None


def _record_sync(ctx: Context, integration_id: int, mark: str) -> None:
    row = ctx.session.get(ContactSync, integration_id)
    if row is None:
        row = ContactSync(integration_id=integration_id)
        ctx.session.add(row)
    row.synced_at = ctx.clock.now()
    row.mark = max(mark, row.mark or "")
    row.searchable = True


@contextmanager
def _sync_lock(ctx: Context, integration_id: int, wait: bool) -> Iterator[bool]:
    """One sync of an integration at a time; yields whether this one may run. Without Redis
    (no queue) there is no other worker to keep out."""
    queue = ctx.queue
    if queue is None:
        yield True
        return
    key = redis_key(queue, "contact-sync", integration_id)
    token = uuid.uuid4().hex
    try:
        taken = bool(queue.connection.set(key, token, nx=True, ex=ctx.settings.lease_seconds))
        steps = _WAIT_STEPS if wait else 0
        while not taken and steps and not _synced(ctx, integration_id):
            ctx.clock.sleep(_WAIT_STEP_SECONDS)
            steps -= 1
            taken = bool(queue.connection.set(key, token, nx=True, ex=ctx.settings.lease_seconds))
    except RedisError as exc:
        log.warning("contact sync lock unavailable, syncing anyway: %s", exc)
        yield True
        return
    try:
        yield taken
    finally:
        if taken:
            try:
                if queue.connection.get(key) == token.encode():
                    queue.connection.delete(key)
            except RedisError:
                pass  # it expires
