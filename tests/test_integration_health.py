"""Each integration's health, as its row shows it: OK, some failures, failing, needs attention,
stuck; with the last update sent and the day's failure ratio. Computed without HTTP, on a clock
the tests move by hand."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from addon.engine.context import Clock
from addon.engine.integration_health import (
    ATTENTION,
    DEGRADED,
    FAILING,
    OK,
    STUCK,
    marketplace_health,
)
from addon.store.models import (
    FAILED,
    NEEDS_ATTENTION,
    PENDING,
    SUCCESS,
    Delivery,
    Event,
    Integration,
)
from tests.conftest import configure

NOW = dt.datetime(2026, 12, 4, 12, 0, 0)
_serial = itertools.count(1)


class HandClock:
    """A clock that moves only when a test says so."""

    def __init__(self, now: dt.datetime = NOW):
        self.at = now

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


@pytest.fixture
def clock(app):
    """The engine's clock, in the test's hands."""
    hand = HandClock()
    app.extensions["addon"].state(app).clock = Clock(now=hand.now, monotonic=lambda: 0.0)
    return hand


def add_delivery(
    engine,
    integration_id: int,
    status: str,
    *,
    finished_at: dt.datetime | None = None,
    due_at: dt.datetime = NOW,
    marketplace_id: str = "acme",
) -> Delivery:
    """One log entry of the integration, as the engine would have written it."""
    db = engine.db.session
    n = next(_serial)
    event = Event(
        marketplace_id=marketplace_id,
        event_id=f"e{n}",
        type="product.purchased",
        email_key=f"c{n}@example.com",
        payload={"customer": {"email": f"c{n}@example.com"}},
        created_at=due_at,
        expanded_at=due_at,
    )
    db.add(event)
    db.flush()
    delivery = Delivery(
        marketplace_id=marketplace_id,
        event_pk=event.id,
        integration_id=integration_id,
        event_id=event.event_id,
        event_type="product.purchased",
        trigger="product.purchased",
        email=event.email_key,
        email_key=event.email_key,
        rule_scope="global",
        integration_label="Main iContact",
        action="add",
        list_id="1",
        list_name="Customers",
        status=status,
        message="",
        sequence_at=due_at,
        next_attempt_at=due_at,
        created_at=due_at,
        finished_at=finished_at if status != PENDING else None,
    )
    db.add(delivery)
    db.commit()
    return delivery


def finished(engine, integration_id: int, status: str, count: int, ago: dt.timedelta) -> None:
    for _ in range(count):
        add_delivery(engine, integration_id, status, finished_at=NOW - ago, due_at=NOW - ago)


def health(app, integration_id: int):
    with app.app_context():
        ctx = app.extensions["addon"].state(app).context
        return marketplace_health(ctx, "acme")[integration_id]


def test_a_new_integration_is_ok_with_nothing_sent_yet(app, integration, clock):
    state = health(app, integration.id)
    assert state.state == OK and state.reason == ""
    assert state.last_success is None and state.failure_percent is None
    assert not state.needs_you


def test_successes_are_ok_and_give_the_last_update_sent(app, engine, integration, clock):
    finished(engine, integration.id, SUCCESS, 3, dt.timedelta(minutes=5))
    finished(engine, integration.id, SUCCESS, 1, dt.timedelta(minutes=2))
    state = health(app, integration.id)
    assert state.state == OK
    assert state.last_success == NOW - dt.timedelta(minutes=2)
    assert (state.finished_24h, state.failed_24h, state.failure_percent) == (4, 0, 0)


def test_a_few_failures_in_the_day_are_some_failures_with_the_ratio(
    app, engine, integration, clock
):
    finished(engine, integration.id, SUCCESS, 9, dt.timedelta(hours=3))
    finished(engine, integration.id, FAILED, 1, dt.timedelta(hours=3))
    state = health(app, integration.id)
    assert state.state == DEGRADED and state.title == "Some failures"
    assert state.failure_percent == 10
    assert state.reason == "1 of 10 updates failed in the last 24 hours."
    assert not state.needs_you


def test_failures_older_than_a_day_are_forgotten(app, engine, integration, clock):
    finished(engine, integration.id, FAILED, 6, dt.timedelta(hours=25))
    assert health(app, integration.id).state == OK


def test_many_failures_in_the_last_hour_are_failing(app, engine, integration, clock):
    finished(engine, integration.id, SUCCESS, 5, dt.timedelta(minutes=30))
    finished(engine, integration.id, FAILED, 5, dt.timedelta(minutes=10))
    state = health(app, integration.id)
    assert state.state == FAILING and state.needs_you
    assert state.reason.startswith("5 of 10 updates failed in the last hour.")


def test_failing_needs_both_the_count_and_the_share(app, engine, integration, clock):
    finished(engine, integration.id, FAILED, 4, dt.timedelta(minutes=10))
    assert health(app, integration.id).state == DEGRADED  # four: below the count
    finished(engine, integration.id, SUCCESS, 20, dt.timedelta(minutes=10))
    finished(engine, integration.id, FAILED, 2, dt.timedelta(minutes=10))
    assert health(app, integration.id).state == DEGRADED  # six of 26: below the share
    configure(app, ADDON_FAILING_PERCENT=20)
    assert health(app, integration.id).state == FAILING


def test_failing_lasts_through_a_quiet_hour_until_an_update_goes_through(
    app, engine, integration, clock
):
    finished(engine, integration.id, FAILED, 6, dt.timedelta(minutes=1))
    assert health(app, integration.id).state == FAILING
    clock.advance(minutes=61)
    state = health(app, integration.id)
    assert state.state == FAILING
    assert state.reason.startswith("6 of 6 updates failed in the last 24 hours, and none has")
    add_delivery(engine, integration.id, SUCCESS, finished_at=clock.at, due_at=clock.at)
    assert health(app, integration.id).state == DEGRADED


def test_rejected_credentials_need_attention_in_words(app, engine, integration, clock):
    row = engine.db.session.get(Integration, integration.id)
    row.status = NEEDS_ATTENTION
    engine.db.session.commit()
    state = health(app, integration.id)
    assert state.state == ATTENTION and state.needs_you
    assert "iContact no longer accepts this integration's password" in state.reason
    assert "enter a new application password" in state.reason


def test_work_due_for_longer_than_the_limit_is_stuck(app, engine, integration, clock):
    add_delivery(engine, integration.id, PENDING, due_at=NOW - dt.timedelta(minutes=14))
    assert health(app, integration.id).state == OK  # waiting, not yet too long
    clock.advance(minutes=1)
    state = health(app, integration.id)
    assert state.state == STUCK and state.needs_you
    assert "the oldest has waited 15 minutes" in state.reason
    assert "RQ" not in state.reason and "worker" not in state.reason


def test_the_stuck_limit_is_a_setting(app, engine, integration, clock):
    add_delivery(engine, integration.id, PENDING, due_at=NOW - dt.timedelta(minutes=6))
    configure(app, ADDON_STUCK_MINUTES=5)
    assert health(app, integration.id).state == STUCK


def test_work_not_due_yet_is_never_stuck(app, engine, integration, clock):
    """A retry's backoff or a delayed rule (an abandoned cart) waits on purpose."""
    add_delivery(engine, integration.id, PENDING, due_at=NOW + dt.timedelta(hours=2))
    clock.advance(hours=1)
    assert health(app, integration.id).state == OK


def test_held_work_of_rejected_credentials_is_needs_attention_not_stuck(
    app, engine, integration, clock
):
    add_delivery(engine, integration.id, PENDING, due_at=NOW - dt.timedelta(hours=1))
    row = engine.db.session.get(Integration, integration.id)
    row.status = NEEDS_ATTENTION
    engine.db.session.commit()
    assert health(app, integration.id).state == ATTENTION


def test_a_percent_outside_1_to_100_stops_the_start(app):
    with pytest.raises(ValueError, match="ADDON_FAILING_PERCENT=0: expected a whole number from"):
        configure(app, ADDON_FAILING_PERCENT=0)


def test_the_host_can_count_what_needs_the_merchant_for_its_own_link(
    app, engine, integration, clock
):
    with app.app_context():
        assert engine.needing_attention("acme") == 0
        add_delivery(engine, integration.id, PENDING, due_at=NOW - dt.timedelta(hours=1))
        assert engine.needing_attention("acme") == 1
        assert engine.needing_attention("bolt") == 0


def test_counting_for_the_host_leaves_no_transaction_open_for_its_next_emit(
    app, engine, integration
):
    with app.app_context():
        session = engine.db.session
        session.commit()
        engine.needing_attention("acme")
        assert not session().in_transaction()
