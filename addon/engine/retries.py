"""Retrying failed log entries by hand, one or all that a filter shows."""

from __future__ import annotations

from typing import Unpack

from ..errors import IntegrationError
from ..store.models import FAILED, PENDING, Delivery
from .context import Context
from .logs import Filters, filtered_query, get_log_entry
from .queue import enqueue_drain


def _requeue(ctx: Context, delivery: Delivery) -> None:
    delivery.status = PENDING
    delivery.message = "retry requested"
    delivery.next_attempt_at = ctx.clock.now()
    delivery.finished_at = None
    delivery.lease_owner = delivery.lease_until = None


def retry_delivery(ctx: Context, marketplace_id: str, delivery_id) -> Delivery:
    """Put one failed entry back in the queue; it keeps its place and its id (no doubles).

    Raises:
        IntegrationError: unknown entry (another marketplace's included), or not failed.
    """
    delivery = get_log_entry(ctx, marketplace_id, delivery_id)
    if delivery.status != FAILED:
        raise IntegrationError("Only failed entries can be retried.")
    if delivery.integration_id is None:
        raise IntegrationError("The integration of this entry was deleted.")
    _requeue(ctx, delivery)
    ctx.session.commit()
    enqueue_drain(ctx.queue, delivery.integration_id)
    return delivery


def retry_failed(ctx: Context, marketplace_id: str, **filters: Unpack[Filters]) -> int:
    """Retry every failed entry that the log filters select; returns how many."""
    filters["status"] = FAILED
    query = filtered_query(marketplace_id, **filters).where(Delivery.integration_id.is_not(None))
    deliveries = list(ctx.session.scalars(query))
    for delivery in deliveries:
        _requeue(ctx, delivery)
    ctx.session.commit()
    for integration_id in {d.integration_id for d in deliveries}:
        enqueue_drain(ctx.queue, integration_id)
    return len(deliveries)


__all__ = ["retry_delivery", "retry_failed"]
