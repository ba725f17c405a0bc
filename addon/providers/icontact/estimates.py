"""What a batch of actions costs in iContact calls, for a backfill's preview (kept apart from
:mod:`batch`, which it describes: a batch looks up each customer whose contact id is not
known, then creates the new contacts in one call and subscribes them all in another)."""

from __future__ import annotations

import math


def estimate_calls(action: str, customers: int, known: int, batch: int) -> int:
    """Calls to apply ``action`` to ``customers`` (``known`` of them with a cached contact
    id), ``batch`` to a claim.

    An add costs a lookup per unknown customer plus two calls per batch (create, subscribe);
    a remove reads the subscription and unsubscribes (plus a lookup when the id is unknown).
    """
    if customers <= 0:
        return 0
    unknown = max(customers - known, 0)
    if action == "add":
        return unknown + 2 * math.ceil(customers / max(batch, 1))
    return unknown + 2 * customers
