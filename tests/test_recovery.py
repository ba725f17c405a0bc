"""Nothing lost: a Redis outage at emit time, a killed worker's leases, rejected credentials."""

import datetime as dt

import pytest
from sqlalchemy import event, select

from addon.engine.queue import redis_key
from addon.engine.sweeper import sweep, sweep_once
from addon.state import context
from addon.store.models import Delivery, Event, Integration
from tests.conftest import APP_ID, USERNAME, configure, list_id, purchase


def only_delivery(engine) -> Delivery:
    """The one delivery row, with its lease (a log entry does not show leases)."""
    [row] = engine.db.session.scalars(select(Delivery)).all()
    return row


def add_rule(engine, integration, trigger="product.purchased", action="add"):
    return engine.add_rule(
        "acme", trigger=trigger, integration_id=integration.id, action=action, list_name="Customers"
    )


def age_everything(engine, seconds=3600):
    """Pretend the stored work has waited ``seconds``."""
    past = dt.timedelta(seconds=seconds)
    session = engine.db.session
    for stored in session.scalars(select(Event)):
        stored.created_at -= past
    for delivery in session.scalars(select(Delivery)):
        if delivery.lease_until:
            delivery.lease_until -= past
    session.commit()


def test_events_stored_during_a_redis_outage_are_swept_later(
    app, engine, integration, icontact, run_jobs
):
    add_rule(engine, integration)
    run_jobs()  # the contact sync of the connect
    queue = engine.state(app).queue
    real_enqueue = queue.enqueue
    queue.enqueue = lambda *a, **k: (_ for _ in ()).throw(ConnectionError("redis down"))
    try:
        purchase(engine)
    finally:
        queue.enqueue = real_enqueue
    assert queue.count == 0
    age_everything(engine)
    assert "1 marketplace" in sweep()
    run_jobs()
    assert icontact.subscribers(list_id(icontact, "Customers")) == {"ann@example.com": "normal"}


def test_a_killed_workers_leases_expire_and_the_work_is_done_once(
    engine, integration, icontact, run_jobs
):
    from addon.engine.expansion import expand_events
    from addon.engine.leases import claim

    add_rule(engine, integration)
    purchase(engine)
    # Expand and lease as a worker would, then "die" before applying.
    expand_events(context(), "acme")
    [claimed] = claim(context(), integration.id, "dead-worker", 10)
    engine.state().queue.empty()
    run_jobs()
    assert engine.logs("acme")[0].status == "pending"  # still leased by the dead worker
    age_everything(engine)
    assert "1 integration" in sweep()
    run_jobs()
    [entry] = engine.logs("acme")
    assert entry.status == "success" and entry.attempts == 1
    assert icontact.subscribers(list_id(icontact, "Customers")) == {"ann@example.com": "normal"}


def test_only_one_worker_sweeps_per_interval(app, engine):
    engine.state(app).queue.connection.delete(redis_key(engine.state(app).queue, "sweep", "lock"))
    assert sweep_once(app) is not None
    assert sweep_once(app) is None


def test_rejected_credentials_hold_work_until_the_merchant_fixes_them(
    engine, integration, icontact, run_jobs
):
    add_rule(engine, integration)
    icontact.change_password(USERNAME, "new-app-password", app_id=APP_ID)
    purchase(engine, "a@example.com")
    purchase(engine, "b@example.com")
    run_jobs()
    stored = engine.db.session.get(Integration, integration.id)
    assert stored.status == "needs_attention"
    entries = engine.logs("acme")
    assert [e.status for e in entries] == ["pending", "pending"]
    assert any("held" in e.message for e in entries)
    from addon.engine.integrations import update_integration

    update_integration(context(), "acme", integration.id, password="new-app-password")
    run_jobs()
    engine.db.session.expire_all()
    assert [e.status for e in engine.logs("acme")] == ["success", "success"]
    assert stored.status == "connected"


def test_held_work_asked_for_again_still_resumes_as_soon_as_the_credentials_are_fixed(
    app, engine, integration, icontact, run_jobs
):
    """A drain that finds the integration held (here asked for by a retry) clears its
    coalescing flag all the same, so fixing the credentials starts the work at once rather
    than when the sweeper comes by."""
    from addon.engine.integrations import update_integration
    from addon.engine.queue import enqueue_drain

    add_rule(engine, integration)
    icontact.change_password(USERNAME, "new-app-password", app_id=APP_ID)
    purchase(engine, "a@example.com")
    run_jobs()
    enqueue_drain(engine.queue, integration.id)  # what a retry of a held entry asks for
    run_jobs()
    assert [e.status for e in engine.logs("acme")] == ["pending"]
    update_integration(context(), "acme", integration.id, password="new-app-password")
    run_jobs()
    engine.db.session.expire_all()
    assert [e.status for e in engine.logs("acme")] == ["success"]


def test_temporary_failures_retry_with_backoff_and_show_the_attempt(
    app, engine, integration, icontact, run_jobs
):
    add_rule(engine, integration)
    icontact.faults.update(error_503_rate=1.0)
    purchase(engine)
    run_jobs()
    [entry] = engine.logs("acme")
    assert entry.status == "pending" and entry.attempts == 1
    assert "Temporary failure on attempt 1" in entry.message and "Next try at" in entry.message
    assert 15 <= (entry.next_attempt_at - entry.created_at).total_seconds() <= 31
    icontact.faults.update(error_503_rate=0.0)
    engine.db.session.get(Delivery, entry.id).next_attempt_at = entry.created_at  # due now
    engine.db.session.commit()
    sweep()
    run_jobs()
    engine.db.session.expire_all()
    [entry] = engine.logs("acme")
    assert entry.status == "success" and entry.attempts == 2


def test_temporary_failures_give_up_after_the_retry_window(
    app, engine, integration, icontact, run_jobs
):
    configure(app, ADDON_RETRY_WINDOW=10)
    add_rule(engine, integration)
    icontact.faults.update(error_500_rate=1.0)
    purchase(engine)
    run_jobs()
    [entry] = engine.logs("acme")
    assert entry.status == "failed" and "Gave up after 1 attempts" in entry.message


def test_a_list_deleted_in_icontact_fails_at_once_saying_what_to_do(
    engine, integration, icontact, run_jobs
):
    add_rule(engine, integration)
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase(engine)
    run_jobs()
    [entry] = engine.logs("acme")
    assert entry.status == "failed" and entry.attempts == 1
    assert "was not found in iContact" in entry.message and "Refresh the lists" in entry.message


def test_retrying_a_failed_entry_keeps_its_place_and_applies_once(
    engine, integration, icontact, run_jobs
):
    from addon.engine.retries import retry_delivery, retry_failed

    add_rule(engine, integration)
    icontact.faults.update(error_500_rate=1.0)
    engine.state().queue.connection.flushdb()
    from flask import current_app

    configure(current_app, ADDON_RETRY_WINDOW=1)
    purchase(engine, "a@example.com")
    purchase(engine, "b@example.com")
    run_jobs()
    assert [e.status for e in engine.logs("acme")] == ["failed", "failed"]
    icontact.faults.update(error_500_rate=0.0)
    first = engine.logs("acme")[1]
    retry_delivery(context(), "acme", first.id)
    assert retry_failed(context(), "acme") == 1
    run_jobs()
    engine.db.session.expire_all()
    assert [e.status for e in engine.logs("acme")] == ["success", "success"]
    assert len(engine.logs("acme")) == 2


def test_a_failed_entry_keeps_what_was_sent_and_answered(engine, integration, icontact, run_jobs):
    add_rule(engine, integration)
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase(engine)
    run_jobs()
    [entry] = engine.logs("acme")
    paths = [call["path"] for call in entry.detail["calls"]]
    assert any(path.endswith("/subscriptions") for path in paths)


def test_a_temporary_failure_part_way_keeps_what_was_done(
    app, engine, integration, icontact, run_jobs
):
    """The subscribe call fails after the contacts were created: only it is retried."""
    add_rule(engine, integration)
    from addon.providers.base import TemporaryFailure
    from addon.providers.icontact.client import IContactClient

    real_subscribe = IContactClient.subscribe
    IContactClient.subscribe = lambda self, pairs, status="normal": (_ for _ in ()).throw(
        TemporaryFailure("iContact answered 503")
    )
    try:
        purchase(engine, "a@example.com")
        run_jobs()
    finally:
        IContactClient.subscribe = real_subscribe
    [entry] = engine.logs("acme")
    assert entry.status == "pending" and "Temporary failure on attempt 1" in entry.message
    assert any(call["path"].endswith("/contacts") for call in entry.detail["calls"])


def test_a_retried_entry_that_a_later_event_overtook_is_skipped(
    app, engine, integration, icontact, run_jobs
):
    """Retrying an old purchase after the refund that followed it must not re-add them."""
    from addon.engine.retries import retry_delivery

    configure(app, ADDON_RETRY_WINDOW=1)
    add_rule(engine, integration)
    add_rule(engine, integration, trigger="product.refunded", action="remove")
    purchase(engine, "a@example.com")
    run_jobs()
    icontact.faults.update(error_500_rate=1.0)
    purchase(engine, "a@example.com", event_id="second-purchase")
    run_jobs()
    icontact.faults.update(error_500_rate=0.0)
    engine.emit(
        "product.refunded",
        marketplace_id="acme",
        customer={"email": "a@example.com"},
        product_id="101",
    )
    run_jobs()
    failed = engine.logs("acme", status="failed")[0]
    retry_delivery(context(), "acme", failed.id)
    run_jobs()
    engine.db.session.expire_all()
    entry = engine.logs("acme", q="second-purchase")[0]
    assert entry.status == "skipped" and "later event" in entry.message
    assert icontact.subscribers(list_id(icontact, "Customers")) == {"a@example.com": "unsubscribed"}


# -- a database outage ---------------------------------------------------------------------------


class DatabaseOutage:
    """The database goes away when a chosen statement runs and answers again once ``lasting``
    statements and commits have failed: each fails with the driver's own OperationalError, as
    a worker sees when PostgreSQL stops.

    ``after_commit``: the chosen statement's transaction commits, but the worker never hears
    back (the connection drops while the server commits).
    """

    def __init__(self, sa_engine, monkeypatch, matches, lasting, after_commit=False):
        self.engine = sa_engine
        self.matches = matches
        self.lasting = lasting
        self.after_commit = after_commit
        self.error = sa_engine.dialect.loaded_dbapi.OperationalError
        self.left = 0  # failures still to come
        self.failed = 0
        self.happened = False
        self._commit_pending = False
        self._real_commit = sa_engine.dialect.do_commit
        monkeypatch.setattr(sa_engine.dialect, "do_commit", self._do_commit)
        event.listen(sa_engine, "before_cursor_execute", self._before)

    def close(self):
        event.remove(self.engine, "before_cursor_execute", self._before)

    def end(self):
        """The database answers again."""
        self.left = 0

    def _fail(self):
        self.left -= 1
        self.failed += 1
        raise self.error("server closed the connection unexpectedly")

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self.left > 0:
            self._fail()
        if not self.happened and self.matches(statement):
            self.happened = True
            if self.after_commit:
                self._commit_pending = True
            else:
                self.left = self.lasting
                self._fail()

    def _do_commit(self, dbapi_connection):
        if self.left > 0:
            self._fail()
        self._real_commit(dbapi_connection)
        if self._commit_pending:
            self._commit_pending = False
            self.left = self.lasting
            self._fail()


@pytest.fixture
def outage(app, monkeypatch):
    """``outage(matches, lasting, after_commit=False)``: arm a :class:`DatabaseOutage`; the
    worker's pauses between tries are recorded in ``outage.pauses`` instead of slept."""
    from addon.engine import outages

    pauses = []
    monkeypatch.setattr(outages, "pause", pauses.append)
    made = []

    def arm(matches, lasting, after_commit=False):
        with app.app_context():
            sa_engine = app.extensions["addon"].db.engine
        armed = DatabaseOutage(sa_engine, monkeypatch, matches, lasting, after_commit)
        armed.pauses = pauses
        made.append(armed)
        return armed

    yield arm
    for armed in made:
        armed.close()


def writes_outcomes(statement):
    return statement.startswith("UPDATE addon_delivery SET status")


def leases(statement):
    # On PostgreSQL the lease's pick comes first, as a WITH clause.
    return "UPDATE addon_delivery SET lease_owner" in statement


@pytest.fixture
def subscribes(monkeypatch):
    """The subscription calls the worker makes, one list of pairs per call."""
    from addon.providers.icontact.client import IContactClient

    made = []
    real = IContactClient.subscribe

    def spy(self, pairs, status="normal"):
        made.append(list(pairs))
        return real(self, pairs, status)

    monkeypatch.setattr(IContactClient, "subscribe", spy)
    return made


def test_outcomes_the_database_could_not_take_are_written_once_it_answers_again(
    engine, integration, icontact, run_jobs, outage, subscribes
):
    """The calls were made when the database went away: the worker writes what they did as
    soon as it answers, rather than leaving the entry "Pending — queued" for a lease."""
    add_rule(engine, integration)
    down = outage(writes_outcomes, lasting=3)
    purchase(engine)
    run_jobs()
    assert down.failed == 3 and down.pauses == [0.1, 0.2, 0.4]
    engine.db.session.expire_all()
    entry = only_delivery(engine)
    assert (entry.status, entry.attempts, entry.lease_owner) == ("success", 1, None)
    assert icontact.subscribers(list_id(icontact, "Customers")) == {"ann@example.com": "normal"}
    assert len(subscribes) == 1


def nth(matches, n):
    """The ``n``-th statement that ``matches``."""
    seen = []

    def counted(statement):
        if matches(statement):
            seen.append(statement)
        return len(seen) == n and matches(statement)

    return counted


def test_a_batch_out_when_the_next_claim_fails_is_written_not_applied_twice(
    app, engine, integration, icontact, run_jobs, outage, subscribes
):
    """Under a backlog over a slow network the next batch is claimed while one is out; when
    that claim loses the database, the batch out is written (its calls were made) before the
    rest is handed back, so none of its customers is subscribed a second time."""
    configure(app, ADDON_CLAIM_BATCH=10)
    add_rule(engine, integration)
    icontact.faults.latency = 0.1  # the calls outlast the worker's own work: claims overlap
    down = outage(nth(leases, 3), lasting=3)
    for n in range(30):
        purchase(engine, f"c{n}@example.com")
    run_jobs()
    assert down.failed == 3
    engine.db.session.expire_all()
    entries = engine.logs("acme", limit=100)
    assert {(e.status, e.attempts) for e in entries} == {("success", 1)}
    subscribed = [pair for call in subscribes for pair in call]
    assert len(subscribed) == len(set(subscribed)) == 30


def matches_events(statement):
    return statement.startswith("UPDATE addon_event SET expanded_at")


def test_a_claim_the_worker_never_heard_back_from_is_handed_back_and_resumed(
    engine, integration, icontact, run_jobs, outage, subscribes
):
    """The leases were committed, but the connection dropped before the worker heard so:
    it gives them back as soon as the database answers and asks for the work again, rather
    than leaving it leased (unclaimable) for a lease."""
    add_rule(engine, integration)
    down = outage(leases, lasting=3, after_commit=True)
    purchase(engine)
    run_jobs()
    assert down.failed == 3
    engine.db.session.expire_all()
    entry = only_delivery(engine)
    assert (entry.status, entry.attempts, entry.lease_owner) == ("success", 1, None)
    assert icontact.subscribers(list_id(icontact, "Customers")) == {"ann@example.com": "normal"}
    assert len(subscribes) == 1


def test_events_the_database_went_away_under_are_matched_once_it_answers_again(
    engine, integration, icontact, run_jobs, outage
):
    """Matching the rules failed with the database away: the job asks for the events again
    as soon as it answers, rather than leaving them to a sweep once they look stale."""
    add_rule(engine, integration)
    down = outage(matches_events, lasting=3)
    purchase(engine)
    run_jobs()
    assert down.failed == 3
    engine.db.session.expire_all()
    [entry] = engine.logs("acme")
    assert entry.status == "success"
    assert icontact.subscribers(list_id(icontact, "Customers")) == {"ann@example.com": "normal"}


def test_leases_a_drain_could_not_give_back_are_given_back_by_the_next_sweep(
    engine, integration, icontact, run_jobs, outage, monkeypatch
):
    """The database stayed away longer than the worker waits for it: the next sweep after it
    answers gives the leases back, rather than letting them lapse (five minutes)."""
    from addon.engine import outages

    monkeypatch.setattr(outages, "PATIENCE_SECONDS", 0.0)
    add_rule(engine, integration)
    down = outage(writes_outcomes, lasting=1000)
    purchase(engine)
    run_jobs()
    down.end()
    engine.db.session.expire_all()
    entry = only_delivery(engine)
    assert entry.status == "pending" and entry.lease_owner is not None  # what the worker left
    engine.db.session.commit()
    assert "1 integration" in sweep()
    run_jobs()
    engine.db.session.expire_all()
    entry = only_delivery(engine)
    assert (entry.status, entry.lease_owner) == ("success", None)


def test_a_worker_waits_for_the_database_with_backoff_for_a_bounded_time(app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from addon.engine import outages

    now = [0.0]
    monkeypatch.setattr(outages, "clock", lambda: now[0])
    monkeypatch.setattr(outages, "pause", lambda seconds: now.__setitem__(0, now[0] + seconds))
    tries = []

    def away():
        tries.append(now[0])
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    with app.app_context(), pytest.raises(OperationalError):
        outages.while_away(context(), away, "testing", seconds=10)
    pauses = [b - a for a, b in zip(tries, tries[1:], strict=False)]
    assert pauses[:6] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2.0])
    assert max(pauses) == 2.0 and tries[-1] <= 10


def test_an_error_that_is_not_an_outage_is_not_retried(app):
    from sqlalchemy.exc import IntegrityError

    from addon.engine import outages

    tries = []

    def refused():
        tries.append(1)
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    with app.app_context(), pytest.raises(IntegrityError):
        outages.while_away(context(), refused, "testing")
    assert tries == [1]
