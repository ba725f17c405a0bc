"""The signed webhook that receives storefront events over HTTP."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, jsonify, request
from sqlalchemy.exc import DBAPIError

from ..engine import outbox
from ..engine.events import validate_event
from ..engine.outages import database_away, rollback
from ..errors import InvalidEvent
from ..state import context, engine
from .webhooks import HEADER, BadSignature, verify

#: Views that the signature alone authenticates (or that are public): no marketplace loader,
#: no CSRF. Names within the blueprint, whatever the host calls it (``ADDON_BLUEPRINT_NAME``).
PUBLIC_VIEWS = frozenset({"webhook", "static", "healthz"})


def is_public_endpoint(endpoint: str | None) -> bool:
    """Whether ``endpoint`` (``"<blueprint>.<view>"``) is one of :data:`PUBLIC_VIEWS`."""
    return endpoint is not None and endpoint.rpartition(".")[2] in PUBLIC_VIEWS


def _error(status: int, message: str, **extra: Any):
    return jsonify({"error": message, **extra}), status


def exempt_from_host_csrf(app: Flask) -> None:
    """Let the webhook past the host's Flask-WTF ``CSRFProtect``, if it has one.

    The webhook's caller is a storefront's server with a signature, not a browser with a
    session, so it has no CSRF token to send; the signature is what it proves itself with.
    """
    protect = app.extensions.get("csrf")
    if protect is not None and hasattr(protect, "exempt"):
        protect.exempt(webhook)


#: What a sender is told to wait when the database is away (a restart takes a few seconds).
RETRY_AFTER_SECONDS = 5


def _refuse_constant(name: str):
    """NaN and Infinity are not JSON, though Python's parser takes them."""
    raise ValueError(f"{name} is not valid JSON")


def webhook():
    settings = engine().settings
    secret = settings.webhook_secret
    if not secret:
        return _error(403, "The event webhook is disabled: ADDON_WEBHOOK_SECRET is not set.")
    limit = settings.webhook_max_bytes
    if request.content_length is not None and request.content_length > limit:
        return _error(413, f"The body is larger than {limit} bytes.")
    body = request.get_data(cache=False)
    if len(body) > limit:
        return _error(413, f"The body is larger than {limit} bytes.")
    try:
        verify(request.headers.get(HEADER), body, secret, settings.webhook_tolerance)
    except BadSignature as exc:
        return _error(401, str(exc))
    try:
        payload = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "The body is not valid JSON.")
    except RecursionError:
        return _error(400, "The body is nested too deeply to be one event.")
    if not isinstance(payload, dict):
        return _error(400, "The body must be one JSON object (one event).")
    fields = dict(payload)
    event_id = fields.pop("id", None)
    if event_id is None:
        return _error(400, "id is required: the event's unique id", field="id")
    event_type, marketplace_id = fields.pop("type", None), fields.pop("marketplace_id", None)
    customer = fields.pop("customer", None)
    try:
        # Validated first, so a bad event is told what is wrong with it before its marketplace
        # is asked about.
        event = validate_event(event_type, marketplace_id, customer, event_id, fields)
    except InvalidEvent as exc:
        return _error(400, str(exc), field=exc.field)
    marketplace = event["marketplace_id"]
    try:
        if not engine().is_known_marketplace(marketplace):
            return _error(
                422,
                f"marketplace_id {marketplace!r} is not a marketplace of this storefront.",
                field="marketplace_id",
                marketplace_id=marketplace,
            )
        stored_id, new = outbox.record(context(), event)
    except DBAPIError as exc:
        if not database_away(exc):
            raise
        # Nothing was stored: the sender keeps the event and tries again, as it would after
        # any 503 (the id makes a second delivery of a stored event harmless).
        rollback(context())
        response = _error(503, "The event could not be stored now; send it again shortly.")
        response[0].headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if new:
        return jsonify({"id": stored_id}), 202
    return jsonify({"id": stored_id, "duplicate": True}), 200


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/api/events", "webhook", webhook, methods=["POST"])
