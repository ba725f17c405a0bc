"""The signed webhook that receives storefront events over HTTP."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from . import outbox
from .errors import InvalidEvent
from .webhooks import HEADER, BadSignature, verify

#: Views that the signature alone authenticates (or that are public): no marketplace loader,
#: no CSRF. Names within the blueprint, whatever the host calls it (``ADDON_BLUEPRINT_NAME``).
PUBLIC_VIEWS = frozenset({"webhook", "static", "healthz"})


def is_public_endpoint(endpoint: str | None) -> bool:
    """Whether ``endpoint`` (``"<blueprint>.<view>"``) is one of :data:`PUBLIC_VIEWS`."""
    return endpoint is not None and endpoint.rpartition(".")[2] in PUBLIC_VIEWS


def _error(status: int, message: str, **extra: Any):
    return jsonify({"error": message, **extra}), status


def _refuse_constant(name: str):
    """NaN and Infinity are not JSON, though Python's parser takes them."""
    raise ValueError(f"{name} is not valid JSON")


def webhook():
    config = current_app.config
    secret = config.get("ADDON_WEBHOOK_SECRET")
    if not secret:
        return _error(403, "The event webhook is disabled: ADDON_WEBHOOK_SECRET is not set.")
    limit = int(config["ADDON_WEBHOOK_MAX_BYTES"])
    if request.content_length is not None and request.content_length > limit:
        return _error(413, f"The body is larger than {limit} bytes.")
    body = request.get_data(cache=False)
    if len(body) > limit:
        return _error(413, f"The body is larger than {limit} bytes.")
    try:
        verify(request.headers.get(HEADER), body, secret, int(config["ADDON_WEBHOOK_TOLERANCE"]))
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
    try:
        stored_id, new = outbox.record(
            fields.pop("type", None),
            fields.pop("marketplace_id", None),
            fields.pop("customer", None),
            event_id,
            fields,
        )
    except InvalidEvent as exc:
        return _error(400, str(exc), field=exc.field)
    if new:
        return jsonify({"id": stored_id}), 202
    return jsonify({"id": stored_id, "duplicate": True}), 200


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/api/events", "webhook", webhook, methods=["POST"])
