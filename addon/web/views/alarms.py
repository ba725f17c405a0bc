"""Health you can see and alarms: each integration's state on its row, the count of those that
need the merchant on the Integration Setup tab."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from ...engine.integration_health import Health, marketplace_health
from ...state import context
from ...store.models import Integration
from .guard import marketplace


def _health(again: bool = False) -> dict[int, Health]:
    # Once per request (kept on the request: an app context, and its g, may outlive one):
    # the rows and the tab's count read the same figures.
    found: dict[int, Health] | None = None if again else getattr(request, "_addon_health", None)
    if found is None:
        found = marketplace_health(context(), marketplace())
        setattr(request, "_addon_health", found)  # noqa: B010 - a request carries no such field
    return found


def health_of(integration: Integration) -> Health:
    """An integration's health, for its row (templates)."""
    known = _health().get(integration.id)
    if known is None:  # a row rendered after the figures were read: read them again
        known = _health(again=True)[integration.id]
    return known


def needing_you() -> int:
    """How many of the marketplace's integrations need the merchant (templates)."""
    return sum(health.needs_you for health in _health().values())


def template_context() -> dict[str, Any]:
    return {"health_of": health_of, "needing_you": needing_you}


def register(bp: Blueprint) -> None:
    bp.context_processor(template_context)
