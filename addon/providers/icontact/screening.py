"""The consent guard (:mod:`.consent`) applied to one batch's adds: who is subscribed, who is
settled without it, and why.

An add for a contact iContact will not mail is skipped; so is an add for a contact that
unsubscribed from the list, unless the engine removed them itself. The unsubscribes are read
once per batch (or per list of it, where that is fewer pages), only for contacts that existed
before the batch; a double opt-in add reads its one subscription, to ask no one twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Action
from . import consent

if TYPE_CHECKING:
    from .batch import _Batch


def screen(batch: _Batch, adds: list[Action]) -> list[Action]:
    """Settle the adds that must not subscribe anyone; returns the rest."""
    ready: list[Action] = []
    existing: dict[str, list[Action]] = {}
    for act in adds:
        contact = batch.contacts.get(act.email_key)
        if contact is not None and not consent.subscribable(contact):
            batch.result.outcomes[act.key] = consent.refused_contact(act, contact)
        elif act.email_key in batch.created or act.email_key not in batch.ids:
            ready.append(act)
        elif act.double_opt_in:
            ready += _confirmable(batch, [act])
        else:
            existing.setdefault(act.list_id, []).append(act)
    left: set[tuple[str, str]] = set()
    if existing:
        start = len(batch.client.transcript)
        left = consent.unsubscribed(batch.client, existing)
        batch.share(
            [a for acts in existing.values() for a in acts], batch.client.transcript[start:]
        )
    for list_id, acts in existing.items():
        for act in acts:
            contact_id = batch.ids[act.email_key]
            if (list_id, contact_id) in left and not act.removed_by_engine:
                batch.result.outcomes[act.key] = consent.opted_out(act, contact_id)
            else:
                ready.append(act)
    return ready


def _confirmable(batch: _Batch, acts: list[Action]) -> list[Action]:
    """The double opt-in adds that may ask the person to confirm (no one is asked twice)."""
    ready = []
    for act in acts:
        contact_id = batch.ids[act.email_key]
        start = len(batch.client.transcript)
        found = batch.client.get_subscription(act.list_id, contact_id)
        batch.share([act], batch.client.transcript[start:])
        status = (found or {}).get("status")
        if status == "unsubscribed" and not act.removed_by_engine:
            batch.result.outcomes[act.key] = consent.opted_out(act, contact_id)
        elif status == "pending":
            batch.result.outcomes[act.key] = consent.awaiting_confirmation(act, contact_id)
        elif status == "normal":
            batch.result.outcomes[act.key] = consent.already_subscribed(act, contact_id)
        else:
            ready.append(act)
    return ready
