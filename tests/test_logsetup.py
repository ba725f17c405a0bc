"""Every log line says which event and marketplace it is about (``addon.logsetup``)."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest

from addon.logsetup import (
    TEXT_FORMAT,
    EventContextFilter,
    JsonFormatter,
    bind_event,
    bound_event,
    configure_logging,
)


@pytest.fixture
def lines():
    """A handler like a host would set up: the filter on the handler, the ids in the format."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(EventContextFilter())
    handler.setFormatter(logging.Formatter("%(event_id)s %(marketplace_id)s %(name)s %(message)s"))
    logger = logging.getLogger("addon")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)  # setLevel, not .level: it also clears the loggers' caches
    yield lambda: stream.getvalue().splitlines()
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_lines_inside_bind_event_carry_its_ids_and_others_a_dash(lines):
    log = logging.getLogger("addon.jobs")  # a child logger: its records reach the handler
    log.info("before")
    with bind_event("o-1042", "acme"):
        log.info("applied")
        with bind_event("o-1043"):  # the marketplace stays bound
            log.info("nested")
    log.info("after")

    assert lines() == [
        "- - addon.jobs before",
        "o-1042 acme addon.jobs applied",
        "o-1043 acme addon.jobs nested",
        "- - addon.jobs after",
    ]
    assert bound_event() == (None, None)


def test_ids_given_with_extra_are_kept(lines):
    with bind_event("o-1", "acme"):
        logging.getLogger("addon").info("explicit", extra={"event_id": "o-2"})
    assert lines() == ["o-2 acme addon explicit"]


def test_each_thread_sees_only_its_own_binding(lines):
    ready, done = threading.Event(), threading.Event()

    def other_job():
        with bind_event("o-thread", "bolt"):
            ready.set()
            done.wait(5)

    thread = threading.Thread(target=other_job)
    thread.start()
    ready.wait(5)
    with bind_event("o-main", "acme"):
        logging.getLogger("addon").info("main")
    done.set()
    thread.join(5)

    assert lines() == ["o-main acme addon main"]


def test_json_lines_for_log_shippers():
    record = logging.LogRecord("addon.jobs", logging.WARNING, __file__, 1, "held %s", ("x",), None)
    with bind_event("o-7", "acme"):
        EventContextFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["event_id"] == "o-7" and entry["marketplace_id"] == "acme"
    assert entry["level"] == "WARNING" and entry["message"] == "held x"


def test_configure_logging_installs_one_handler_for_the_process():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    try:
        configure_logging(stream=io.StringIO())
        configure_logging(stream=stream)  # again: replaced, not doubled
        with bind_event("o-9", "acme"):
            logging.getLogger("rq.worker").info("job done")
    finally:
        root.handlers, root.level = handlers, level

    [line] = stream.getvalue().splitlines()
    assert line.endswith("INFO rq.worker event_id=o-9 marketplace_id=acme job done")
    assert "%(event_id)s" in TEXT_FORMAT
