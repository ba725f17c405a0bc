"""Application logs that say which event (and marketplace) each line is about.

Code that works on one event binds it for the duration::

    with bind_event(event.event_id, event.marketplace_id):
        log.info("applied")       # ... event_id=o-1042 marketplace_id=acme applied

:class:`EventContextFilter` copies the bound ids onto every log record (``-`` when none is
bound), so any formatter can print ``%(event_id)s`` and ``%(marketplace_id)s``. The ids live
in a ``contextvars.ContextVar``: threads and asyncio tasks each see their own.

A host with its own logging set-up adds the filter to its handlers (``dictConfig``:
``"filters": {"addon": {"()": "addon.logsetup.EventContextFilter"}}``); without one,
:func:`configure_logging` installs one for the whole process.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

#: key=value lines, easy to read and to grep: ``event_id=o-1042``.
TEXT_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s "
    "event_id=%(event_id)s marketplace_id=%(marketplace_id)s %(message)s"
)
#: What a record shows when no event is bound.
UNBOUND = "-"

_bound: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar(
    "addon_log_event", default=(None, None)
)


@contextmanager
def bind_event(event_id: str | None, marketplace_id: str | None = None) -> Iterator[None]:
    """Tag every log line written inside the block with this event and marketplace.

    Args:
        event_id: the storefront's event id (``Event.event_id``), not the database key.
        marketplace_id: the event's marketplace; kept from an outer binding when None.
    """
    _, outer_marketplace = _bound.get()
    token = _bound.set(
        (
            None if event_id is None else str(event_id),
            outer_marketplace if marketplace_id is None else str(marketplace_id),
        )
    )
    try:
        yield
    finally:
        _bound.reset(token)


def bound_event() -> tuple[str | None, str | None]:
    """The ``(event_id, marketplace_id)`` bound here, each None when unbound."""
    return _bound.get()


class EventContextFilter(logging.Filter):
    """Adds ``event_id`` and ``marketplace_id`` to each record; lets every record through.

    Put it on a *handler*: a logger's filters see only records logged on that very logger,
    not those its children propagate.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        event_id, marketplace_id = _bound.get()
        # Keep ids a caller passed explicitly (``log.info(..., extra={"event_id": ...})``).
        if getattr(record, "event_id", None) is None:
            record.event_id = event_id or UNBOUND
        if getattr(record, "marketplace_id", None) is None:
            record.marketplace_id = marketplace_id or UNBOUND
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers: time, level, logger, ids and message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "event_id": getattr(record, "event_id", UNBOUND),
            "marketplace_id": getattr(record, "marketplace_id", UNBOUND),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(
    level: int | str = logging.INFO, *, json_lines: bool = False, stream: IO[str] | None = None
) -> logging.Handler:
    """Log every line of this process to ``stream`` (stderr), each with its event id.

    For processes the add-on runs itself (``flask addon worker``): the handler goes on the root
    logger, so RQ's lines get the same format (with ``-`` for the ids). A host that configures
    logging its own way adds :class:`EventContextFilter` to its handlers instead.

    Args:
        level: the root logger's level.
        json_lines: one JSON object per line instead of key=value text.
        stream: where to write; stderr by default.

    Returns:
        The installed handler (calling again replaces it rather than doubling lines).
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_addon_logsetup", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(EventContextFilter())
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    handler._addon_logsetup = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
