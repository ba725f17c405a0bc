"""Request bodies as the service reads them: JSON, one object, or a collection's records."""

from __future__ import annotations

import json

from flask import abort, request

from . import messages
from .context import sandbox_state
from .replies import error_response


def read_body() -> object:
    """The request body parsed as JSON; aborts with 400 when it is not JSON."""
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw)
    except ValueError:
        abort(error_response(400, messages.BAD_JSON))


def read_object() -> dict:
    """A body that must be one JSON object (member updates); aborts with 400 otherwise."""
    body = read_body()
    if not isinstance(body, dict):
        abort(error_response(400, messages.NOT_OBJECT_BODY))
    return body


def read_items(singular: str, plural: str) -> list[object]:
    """The records of a collection POST.

    The documented body is an array; a bare object, ``{singular: {...}}`` and
    ``{plural: [...]}`` are taken too because published clients send them. More records than
    the ``max_batch`` knob allows abort with 400 before any is saved.
    """
    body = read_body()
    if isinstance(body, dict):
        if set(body) == {singular} or set(body) == {plural}:
            body = next(iter(body.values()))
        if isinstance(body, dict):
            body = [body]
    if not isinstance(body, list):
        abort(error_response(400, messages.BAD_JSON))
    limit = sandbox_state().faults.max_batch
    if limit is not None and len(body) > limit:
        abort(error_response(400, messages.TOO_MANY_RECORDS.format(count=len(body), limit=limit)))
    return body
