"""Health you can see and alarms: each integration's state on its row, the count of those that
need the merchant on the Integration Setup tab, and the Alarms tab (where alarms go, a test
alarm, the history)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for
from werkzeug.wrappers import Response

from ...engine.alarms import alarm_history, send_test_alarm
from ...engine.integration_health import Health, marketplace_health
from ...state import context, engine
from ...store.models import Integration
from .guard import marketplace
from .htmx import close_dialog, render_screen

SCREEN = "addon/alarms.html"
#: How the history names each channel.
CHANNEL_NAMES = {"email": "Email", "webhook": "Alert service"}


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


def screen_context() -> dict[str, Any]:
    ctx = context()
    mid = marketplace()
    settings = ctx.settings
    return {
        "tab": "alarms",
        "alarms": alarm_history(ctx, mid),
        "digest_hours": settings.alarm_digest_hours,
        "channel_names": CHANNEL_NAMES,
        "channels": {
            "email": settings.alarm_email,
            # The merchant's own addresses; the host's support addresses are theirs to know.
            "addresses": engine().alarm_addresses(mid),
            "webhook": bool(settings.alarm_webhook_url),
        },
    }


def alarms() -> str:
    """The Alarms tab."""
    return render_screen(SCREEN, **screen_context())


def test_alarm() -> Response:
    """Send a test alarm on every channel that is on; the tab then shows how it went."""
    alarm = send_test_alarm(context(), engine(), marketplace())
    failed = [words for words in alarm.channels.values() if words.startswith("not ")]
    if all(words == "off" for words in alarm.channels.values()):
        notice = "Nothing was sent: every alarm channel is turned off on this store."
    elif failed:
        notice = "The test alarm was not sent everywhere: see how it went below."
    else:
        notice = "Test alarm sent: see how it went below."
    return close_dialog(SCREEN, url_for(".alarms"), screen_context, notice)


def register(bp: Blueprint) -> None:
    bp.context_processor(template_context)
    bp.add_url_rule("/alarms", "alarms", alarms)
    bp.add_url_rule("/alarms/test", "test_alarm", test_alarm, methods=["POST"])
