"""Alarms posted as JSON to ``ADDON_ALARM_WEBHOOK_URL``, signed like the event webhook the
add-on receives: ``X-Addon-Signature: t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>">`` under
``ADDON_ALARM_WEBHOOK_SECRET`` (docs/mounting.md shows how to check it)."""

from __future__ import annotations

import json
import logging
from typing import Any

import requests

from ..settings import Settings
from ..web.webhooks import HEADER, sign
from . import OFF

log = logging.getLogger("addon.alarms")

#: Seconds (connect, read): a slow receiver must not hold up the sweeper for long.
TIMEOUT = (3.05, 10.0)


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes posted (and signed)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def post_alarm(
    settings: Settings, payload: dict[str, Any], timestamp: int, http: Any = requests
) -> str:
    """Post ``payload`` to the alarm webhook, signed at ``timestamp`` (unix seconds).

    Args:
        http: what posts (``requests`` or a ``requests.Session``).

    Returns:
        What happened, in words: ``off``, ``delivered (200)`` or ``not delivered: why``.
    """
    url, secret = settings.alarm_webhook_url, settings.alarm_webhook_secret
    if not url or not secret:
        return OFF
    body = body_of(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "addon-alarms",
        HEADER: sign(body, secret, timestamp),
    }
    try:
        response = http.post(
            url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as exc:
        log.warning("alarm webhook not delivered: %s", exc)
        return "not delivered: the store's alert service could not be reached"
    if 200 <= response.status_code < 300:
        return f"delivered ({response.status_code})"
    log.warning("alarm webhook answered %s", response.status_code)
    return (
        f"not delivered: the store's alert service answered with an error ({response.status_code})"
    )
