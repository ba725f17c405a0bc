"""Throughput mechanisms, checked for correctness: batches grouped by list and action, the
contact cache and its invalidation, and the shared limiter never exceeding the allowance."""

import time

import pytest
from sqlalchemy import select

from addon.engine.queue import redis_key
from addon.engine.ratelimit import TokenBucket
from addon.state import context
from addon.store.bookkeeping import CachedContact
from addon.store.models import utcnow
from tests.conftest import USERNAME, configure, list_id
from tests.fake_clock import FakeClock


@pytest.fixture
def lookups(monkeypatch):
    """iContact as a provider without a contact sync: every unknown customer is looked up."""
    import dataclasses

    from addon.providers import PROVIDERS

    plain = dataclasses.replace(PROVIDERS["icontact"], sync_contacts=None)
    monkeypatch.setitem(PROVIDERS, "icontact", plain)


@pytest.fixture
def rules(engine, integration):
    for trigger, action, name, product in [
        ("product.purchased", "add", "Customers", None),
        ("product.purchased", "add", "Refunds", "101"),
        ("product.refunded", "remove", "Customers", None),
    ]:
        engine.add_rule(
            "acme",
            trigger=trigger,
            integration_id=integration.id,
            action=action,
            list_name=name,
            product_id=product,
        )


def purchase(engine, email, product_id="101"):
    engine.emit(
        "product.purchased",
        marketplace_id="acme",
        customer={"email": email, "first_name": "F"},
        product_id=product_id,
        purchase_type="primary",
    )


def calls(icontact, method, suffix):
    return [c for c in icontact.calls if c["method"] == method and c["path"].endswith(suffix)]


@pytest.fixture
def call_log(icontact, monkeypatch):
    """Record each API call the client makes (method, path, body size)."""
    from addon.providers.icontact.client import IContactClient

    recorded = []
    icontact.calls = recorded
    real = IContactClient.request

    def spy(self, method, path, **kw):
        body = kw.get("json")
        recorded.append(
            {"method": method, "path": path, "size": len(body) if isinstance(body, list) else 1}
        )
        return real(self, method, path, **kw)

    monkeypatch.setattr(IContactClient, "request", spy)
    return recorded


def test_a_burst_is_applied_with_one_create_and_one_subscribe_call_per_list(
    engine, rules, icontact, run_jobs, call_log
):
    for n in range(40):
        purchase(engine, f"buyer{n}@example.com")
    run_jobs()
    creates = calls(icontact, "POST", "/contacts")
    subscribes = calls(icontact, "POST", "/subscriptions")
    assert [c["size"] for c in creates] == [40]
    assert sorted(c["size"] for c in subscribes) == [80]  # both lists in one call
    # The account's contacts, synced at connect, and one check for those created since: no
    # lookup per new customer.
    assert len(calls(icontact, "GET", "/contacts")) == 2
    entries = engine.logs("acme", limit=100)
    assert len(entries) == 80 and {e.status for e in entries} == {"success"}
    assert {e.detail["calls"][-1].get("shared_by") for e in entries} == {80}
    customers = icontact.subscribers(list_id(icontact, "Customers"))
    assert len(customers) == 40 and set(customers.values()) == {"normal"}


def test_returning_customers_cost_no_lookup(engine, rules, icontact, run_jobs, call_log):
    purchase(engine, "ann@example.com")
    run_jobs()
    call_log.clear()
    purchase(engine, "Ann@Example.com", product_id="102")
    run_jobs()
    assert calls(icontact, "GET", "/contacts") == []
    assert len(calls(icontact, "POST", "/subscriptions")) == 1
    [latest, _] = engine.logs("acme", trigger="product.purchased", limit=2)
    assert "cached contact" in latest.message


def test_a_cached_id_that_icontact_no_longer_knows_is_looked_up_again(
    engine, rules, icontact, run_jobs
):
    purchase(engine, "ann@example.com")
    run_jobs()
    old = engine.db.session.scalar(select(CachedContact.contact_id))
    engine.db.session.rollback()  # end the read: an emit joins an open transaction
    # The merchant deleted the contact in iContact; the customer buys again.
    with icontact.lock:
        account = icontact.accounts[USERNAME]
        account.contacts.pop(old)
        account.emails.pop("ann@example.com", None)
        for key in [k for k in account.subscriptions if k[1] == old]:
            account.subscriptions.pop(key)
    purchase(engine, "ann@example.com", product_id="102")
    run_jobs()
    engine.db.session.expire_all()
    new = engine.db.session.scalar(select(CachedContact.contact_id))
    assert new != old
    assert icontact.subscribers(list_id(icontact, "Customers")) == {"ann@example.com": "normal"}
    assert engine.logs("acme")[0].status == "success"


def test_an_existing_contact_is_never_overwritten_with_blanks(engine, rules, icontact, run_jobs):
    icontact.register(USERNAME, "other-app", "x")
    purchase(engine, "ann@example.com")
    run_jobs()
    with icontact.lock:
        contact = next(iter(icontact.accounts[USERNAME].contacts.values()))
        contact["street"] = "1 Main St"
    engine.db.session.query(CachedContact).delete()
    engine.db.session.commit()
    purchase(engine, "ann@example.com", product_id="102")
    run_jobs()
    contact = next(iter(icontact.contacts(USERNAME)))
    assert (contact["street"], contact["firstName"]) == ("1 Main St", "F")


def test_per_customer_order_holds_inside_a_batch(engine, rules, icontact, run_jobs):
    for n in range(10):
        purchase(engine, f"c{n}@example.com")
        engine.emit(
            "product.refunded",
            marketplace_id="acme",
            customer={"email": f"c{n}@example.com"},
            product_id="101",
        )
    run_jobs()
    assert set(icontact.subscribers(list_id(icontact, "Customers")).values()) == {"unsubscribed"}


def test_the_limiter_never_exceeds_the_allowance(
    app, engine, lookups, rules, icontact, run_jobs, monkeypatch
):
    """More calls than a minute's allowance of ten: the limiter spreads them over more than a
    minute of the (shared, hand-moved) clock, and iContact never sees more than ten in any
    minute."""
    clock = FakeClock()
    monkeypatch.setattr(engine.state(app), "clock", clock.clock())
    monkeypatch.setattr(icontact, "clock", clock.monotonic)
    # One lookup at a time: a call is made at the moment its token is granted.
    configure(app, ADDON_ICONTACT_CALLS_PER_MINUTE=10, ADDON_ICONTACT_CONCURRENCY=1)
    icontact.faults.update(calls_per_minute=10)
    icontact.stats.__init__()  # count from here
    for n in range(12):
        purchase(engine, f"slow{n}@example.com")
    run_jobs()
    entries = engine.logs("acme", limit=100)
    assert {e.status for e in entries} == {"success"}
    assert icontact.stats.total_calls > 10  # lookups, creates and subscribes
    assert icontact.stats.throttled == 0
    assert icontact.stats.max_per_minute <= 10
    assert sum(clock.slept) > 60  # it waited for the allowance rather than calling


def test_token_bucket_paces_across_clients_and_slows_down_after_a_throttle(app, engine):
    redis = engine.state(app).queue.connection
    clock = FakeClock()
    a = TokenBucket(redis, "addon:test:bucket", 600, clock=clock.clock())
    b = TokenBucket(redis, "addon:test:bucket", 600, max_wait=0.01, clock=clock.clock())
    for _ in range(60):
        a.acquire()  # the burst capacity: a tenth of the allowance
    assert clock.slept == []
    from addon.providers import TemporaryFailure

    with pytest.raises(TemporaryFailure):
        b.acquire()  # shared: the other client finds the bucket empty
    a.slow_down()
    a.acquire()
    # 600/min refills 8.5 tokens/s; slowed down to half, one token takes 1/4.25 s.
    assert clock.slept == [pytest.approx(1 / 4.25)]
    clock.advance(TokenBucket.SLOW_DOWN_SECONDS)
    for _ in range(60):
        a.acquire()  # a minute on, the full rate and burst are back
    assert len(clock.slept) == 1


def test_lookups_reserve_their_tokens_in_one_trip_and_never_beyond_the_bucket(app, engine):
    from addon.providers import TemporaryFailure

    redis = engine.state(app).queue.connection
    a = TokenBucket(redis, "addon:test:reserve", 600, max_wait=0.01)
    b = TokenBucket(redis, "addon:test:reserve", 600, max_wait=0.01)
    a.reserve(100)  # wants 100; the bucket holds 60 (a tenth of the allowance)
    for _ in range(60):
        a.acquire()  # spends the reserve: no trip to Redis, no wait
    with pytest.raises(TemporaryFailure):
        b.acquire()  # the reserve came out of the shared bucket
    with pytest.raises(TemporaryFailure):
        a.acquire()  # and it was 60, not 100
    c = TokenBucket(redis, "addon:test:reserve-c", 600, max_wait=0.01)
    c.reserve(5)
    c.slow_down()  # a throttle answer drops what was reserved too
    with pytest.raises(TemporaryFailure):
        c.acquire()


def test_a_long_queue_of_events_is_expanded_in_chunks_by_follow_up_jobs(
    engine, rules, icontact, run_jobs, monkeypatch
):
    from addon.engine import expansion

    monkeypatch.setattr(expansion, "EXPAND_CHUNK", 2)
    for n in range(5):
        purchase(engine, f"chunk{n}@example.com")
    run_jobs()
    entries = engine.logs("acme", limit=100)
    assert len(entries) == 10 and {e.status for e in entries} == {"success"}


def test_events_stored_while_a_drain_works_are_applied_by_that_drain(
    app, engine, rules, integration, icontact, monkeypatch
):
    """Under a steady stream a drain matches rules for what arrived meanwhile, instead of
    leaving it for a job that can only start once the drain ends."""
    from addon.engine import drain, jobs

    purchase(engine, "first@example.com")
    real_finish = drain.finish_batch
    arrivals = ["second@example.com", "third@example.com"]

    def finish_and_receive_more(*args, **kw):
        done = real_finish(*args, **kw)
        if arrivals:
            purchase(engine, arrivals.pop(0))  # stored by the storefront meanwhile
        return done

    monkeypatch.setattr(drain, "finish_batch", finish_and_receive_more)
    with app.app_context():
        jobs.drain_integration(integration.id)
    entries = engine.logs("acme", limit=100)
    assert {e.email for e in entries} == {
        "first@example.com",
        "second@example.com",
        "third@example.com",
    }
    assert {e.status for e in entries} == {"success"}


def test_a_growing_backlog_keeps_one_queued_job_per_helper_drain(
    app, engine, rules, integration, monkeypatch
):
    """Each chunk of a backlog asks for helper drains; however many chunks, each helper has
    one job queued, not one per chunk (each would cost a worker a job for nothing)."""
    from addon.engine import expansion

    configure(app, ADDON_CLAIM_BATCH=2, ADDON_PARALLEL_DRAINS=3)
    monkeypatch.setattr(expansion, "EXPAND_CHUNK", 4)
    for n in range(20):
        purchase(engine, f"backlog{n}@example.com")
    queue = engine.queue
    queue.empty()
    with app.app_context():
        for _ in range(5):
            expansion.expand_waiting(context(), "acme", draining=integration.id)
    drains = [job for job in queue.jobs if job.func_name == "addon.jobs.drain_integration"]
    assert sorted(job.args for job in drains) == [(integration.id, 1), (integration.id, 2)]


def test_one_worker_at_a_time_matches_a_marketplaces_events(
    app, engine, rules, integration, monkeypatch
):
    """A worker that finds another matching the marketplace's events leaves them to it
    rather than matching them too and throwing the work away."""
    from addon.engine import expansion

    purchase(engine, "first@example.com")
    matched = []
    real_expand = expansion.expand_events

    def expand_while_another_worker_tries(ctx, marketplace_id, limit):
        matched.append(marketplace_id)
        if len(matched) == 1:
            assert (
                expansion.expand_waiting(context(), marketplace_id) == {}
            )  # the other worker, meanwhile
        return real_expand(ctx, marketplace_id, limit=limit)

    monkeypatch.setattr(expansion, "expand_events", expand_while_another_worker_tries)
    with app.app_context():
        due = expansion.expand_waiting(context(), "acme")
    assert matched == ["acme"]
    assert due[integration.id][1] == 2


def test_events_left_to_a_busy_worker_are_matched_once_it_is_done(
    app, engine, rules, integration, icontact, run_jobs, monkeypatch
):
    """The job of an event stored while another worker matched a chunk finds it busy and
    ends; that worker looks again when it is done, so the event is not left waiting."""
    from addon.engine import expansion, jobs

    engine.emit(  # no rule for it: nothing to apply, so no drain follows its matching
        "subscription.charged",
        marketplace_id="acme",
        customer={"email": "first@example.com"},
        subscription_id="s1",
        product_id="101",
    )
    real_expand = expansion.expand_events
    arrivals = ["second@example.com"]

    def expand_while_an_event_arrives(ctx, marketplace_id, limit):
        done = real_expand(ctx, marketplace_id, limit=limit)  # read before the arrival
        if arrivals:
            purchase(engine, arrivals.pop())
            # Its job, taken by another worker:
            app.extensions["addon"].state(app).queue.empty()
            assert expansion.expand_waiting(context(), marketplace_id) == {}
        return done

    monkeypatch.setattr(expansion, "expand_events", expand_while_an_event_arrives)
    with app.app_context():
        jobs.process_marketplace("acme")
    run_jobs()
    entries = engine.logs("acme", limit=100)
    assert {e.email for e in entries} == {"second@example.com"}
    assert {e.status for e in entries} == {"success"}


def test_a_drain_that_runs_dry_waits_for_the_events_another_worker_is_matching(
    app, engine, rules, integration, icontact
):
    """With the next events being matched elsewhere, an empty claim does not end the drain
    (and leave this worker idle): it waits for that worker and applies what it wrote."""
    import threading

    from addon.engine import expansion, jobs

    purchase(engine, "first@example.com")
    purchase(engine, "second@example.com")
    lock = engine.queue.connection.lock(
        redis_key(engine.queue, "expanding", "acme"), timeout=30, thread_local=False
    )
    assert lock.acquire(blocking=False)  # the other worker starts matching

    def other_worker():
        time.sleep(0.3)
        with app.app_context():
            expansion.expand_events(context(), "acme")
        lock.release()

    other = threading.Thread(target=other_worker)
    other.start()
    with app.app_context():
        summary = jobs.drain_integration(integration.id)
    other.join()
    assert summary == "applied 4 deliveries"
    entries = engine.logs("acme", limit=100)
    assert len(entries) == 4 and {e.status for e in entries} == {"success"}


def test_events_are_matched_while_redis_is_down(app, engine, rules, integration, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from addon.engine import expansion

    purchase(engine, "first@example.com")
    queue = app.extensions["addon"].state(app).queue

    def unreachable(*args, **kw):
        raise RedisConnectionError("Connection refused")

    with app.app_context():
        monkeypatch.setattr(queue.connection, "delete", lambda *a: 0)
        monkeypatch.setattr(queue.connection, "execute_command", unreachable)
        due = expansion.expand_waiting(context(), "acme")
    assert due[integration.id][1] == 2


def test_a_worker_keeps_a_connection_for_every_lookup_it_runs_at_once(app, integration):
    from addon.engine.integrations import client_for, get_integration

    configure(app, ADDON_ICONTACT_CONCURRENCY=24)
    with app.app_context():
        ctx = context()
        client = client_for(ctx, get_integration(ctx, "acme", integration.id))
    # A smaller pool makes urllib3 discard (and warn about) every connection beyond it.
    assert client.http.connection_pool_kw["maxsize"] == 24


def test_deliveries_waiting_behind_their_own_customer_do_not_hold_up_other_customers(
    app, engine, integration, purchase_rule
):
    """One customer's pile of deliveries waits for its first one (in flight elsewhere);
    a claim looks past the pile, however long, to the next customer's."""
    import datetime as dt

    from addon.engine import expansion, leases
    from addon.store.models import Delivery

    for n in range(7):
        purchase(engine, "busy@example.com", product_id=f"p{n}")
    purchase(engine, "next@example.com")
    with app.app_context():
        expansion.expand_waiting(context(), "acme", draining=integration.id)
        session = app.extensions["addon"].db.session
        first = session.scalars(
            select(Delivery).order_by(Delivery.sequence_at, Delivery.id)
        ).first()
        first.lease_owner, first.lease_until = (
            "another-worker",
            utcnow() + dt.timedelta(minutes=5),
        )
        session.commit()
        claimed = leases.claim(context(), integration.id, "me", limit=2)  # looks 4 at a time
        assert [d.email for d in claimed] == ["next@example.com"]


@pytest.mark.parametrize("taken", [2, 4], ids=["the oldest", "all it read"])
def test_a_claim_that_loses_the_deliveries_it_read_to_another_worker_takes_the_next(
    app, engine, integration, purchase_rule, monkeypatch, taken
):
    """Two workers read the same oldest deliveries; the one that leases second takes the
    ones after them (reading again when it lost all it read) instead of coming back empty,
    which ended its drain and left it idle beside the backlog."""
    import datetime as dt

    from addon.engine import expansion, leases
    from addon.store.models import Delivery

    emails = [f"race{n}@example.com" for n in range(8)]
    for email in emails:
        purchase(engine, email)
    real_first_pending = leases._first_pending
    raced = []

    def another_worker_leases_first(ctx, integration_id, keys):
        firsts = real_first_pending(ctx, integration_id, keys)
        if not raced:
            raced.append(True)
            session = app.extensions["addon"].db.session
            oldest = session.scalars(
                select(Delivery).order_by(Delivery.sequence_at, Delivery.id).limit(taken)
            )
            for delivery in oldest:
                delivery.lease_owner = "another-worker"
                delivery.lease_until = utcnow() + dt.timedelta(minutes=5)
            session.commit()
        return firsts

    with app.app_context():
        expansion.expand_waiting(context(), "acme", draining=integration.id)
        monkeypatch.setattr(leases, "_first_pending", another_worker_leases_first)
        claimed = leases.claim(context(), integration.id, "me", limit=2)  # reads 4 at a time
        assert [d.email for d in claimed] == emails[taken : taken + 2]


def test_the_database_work_of_a_batch_does_not_grow_with_its_size(
    app, engine, rules, integration, icontact
):
    """Statements per batch stay flat from 5 to 40 customers: no delivery or contact is
    loaded, checked or written with a query of its own (that once cost two thirds of a
    worker's time)."""
    from sqlalchemy import event as sa_event

    from addon.engine import expansion, jobs

    def statements_to_apply(customers: int, prefix: str) -> int:
        for n in range(customers):
            purchase(engine, f"{prefix}{n}@example.com")
        with app.app_context():
            expansion.expand_waiting(context(), "acme", draining=integration.id)
            db_engine = app.extensions["addon"].db.engine
            seen = []

            def count(*_args):
                seen.append(1)

            sa_event.listen(db_engine, "before_cursor_execute", count)
            try:
                jobs.drain_integration(integration.id)
            finally:
                sa_event.remove(db_engine, "before_cursor_execute", count)
        return len(seen)

    small = statements_to_apply(5, "small")  # 10 deliveries in one batch
    big = statements_to_apply(40, "big")  # 80 deliveries in one batch
    assert big <= small + 2, (small, big)


def test_no_statement_of_a_drain_reads_the_whole_delivery_log(
    app, engine, rules, integration, icontact
):
    """Deliveries are also every marketplace's log: a drain's claims, leases and outcomes
    (written only under the lease) find their rows through an index (lease renewals once
    scanned the table)."""
    from sqlalchemy import event as sa_event

    from addon.engine import jobs

    with app.app_context():
        db_engine = app.extensions["addon"].db.engine
    if db_engine.dialect.name != "sqlite":
        pytest.skip("reads SQLite's query plans")
    for n in range(5):
        purchase(engine, f"shopper{n}@example.com")
    statements = []

    def keep(_conn, _cursor, statement, parameters, _context, executemany):
        if "addon_delivery" in statement:  # a many-row statement's plan is its first row's
            statements.append((statement, parameters[0] if executemany else parameters))

    sa_event.listen(db_engine, "before_cursor_execute", keep)
    try:
        with app.app_context():
            jobs.process_marketplace("acme")
    finally:
        sa_event.remove(db_engine, "before_cursor_execute", keep)
    assert any("lease_owner = ?" in statement for statement, _ in statements)
    scans = set()
    with db_engine.connect() as conn:
        for statement, parameters in statements:
            for *_ids, detail in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, parameters
            ):
                if detail.startswith("SCAN addon_delivery") and "INDEX" not in detail:
                    scans.add(statement.split(" WHERE")[0])
    assert not scans


def test_two_workers_learning_the_same_customer_both_write_their_outcomes(app, engine, integration):
    """Two batches with the same new customer (say, one per list) run on two workers; each
    looked the contact up and each remembers it: the second must not fail its write."""
    from addon.engine.contacts import known_contacts, remember_contacts

    with app.app_context():
        session = app.extensions["addon"].db.session
        for contact_id in ("501", "502"):  # both saw an empty cache before the other wrote
            remember_contacts(context(), integration.id, {"ann@example.com": contact_id}, set(), {})
            session.commit()
        assert known_contacts(context(), integration.id, ["ann@example.com"]) == {
            "ann@example.com": "502"
        }


def test_a_batch_claimed_long_ago_is_checked_before_calling_and_skips_what_was_taken_over(
    app, engine, rules, integration, icontact, monkeypatch
):
    """A fresh claim goes straight to iContact (its leases cannot have lapsed); one older
    than a tenth of the lease renews first and leaves out what another worker took over."""
    import dataclasses
    import datetime as dt
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import update

    from addon.engine import expansion, leases
    from addon.engine.applying import finish_batch, prepare_batch
    from addon.engine.integrations import client_for
    from addon.providers import PROVIDERS
    from addon.store.models import Delivery, Integration

    provider = PROVIDERS["icontact"]
    sent = []

    def spy(client, actions, known, **options):
        sent.extend(action.customer["email"] for action in actions)
        return provider.apply_actions(client, actions, known, **options)

    monkeypatch.setitem(PROVIDERS, "icontact", dataclasses.replace(provider, apply_actions=spy))
    purchase(engine, "kept@example.com", product_id="999")
    purchase(engine, "taken@example.com", product_id="999")
    with app.app_context():
        db = app.extensions["addon"].db
        expansion.expand_waiting(context(), "acme", draining=integration.id)
        owner = leases.new_owner()
        batch = leases.claim(context(), integration.id, owner, 10)
        with db.engine.begin() as other_worker:  # as if our lease had lapsed meanwhile
            other_worker.execute(
                update(Delivery)
                .where(Delivery.email == "taken@example.com")
                .values(lease_owner="other", lease_until=utcnow() + dt.timedelta(hours=1))
            )
        current = db.session.get(Integration, integration.id)
        claimed_at = time.monotonic() - app.config["ADDON_LEASE_SECONDS"] / 5
        applying = prepare_batch(context(), batch, current.id, current.provider, owner, claimed_at)
        with ThreadPoolExecutor(1) as calls:
            applying.start(context(), calls, client_for(context(), current), owner)
            assert finish_batch(context(), applying, owner)
        db.session.commit()
    assert sent == ["kept@example.com"]


def test_a_delivery_whose_lease_was_taken_over_mid_batch_keeps_its_new_owners_state(
    app, engine, rules, integration, icontact, run_jobs, monkeypatch
):
    """A worker that stalled past its lease finds one delivery taken over by another worker
    when its calls return: it records the rest and leaves that one to its new owner."""
    import dataclasses
    import datetime as dt

    from sqlalchemy import update

    from addon.providers import PROVIDERS
    from addon.store.models import Delivery

    provider = PROVIDERS["icontact"]

    def stalled(client, actions, known, **options):
        result = provider.apply_actions(client, actions, known, **options)
        later = utcnow() + dt.timedelta(hours=1)
        with app.extensions["addon"].db.engine.begin() as other_worker:
            other_worker.execute(
                update(Delivery)
                .where(Delivery.email == "taken@example.com")
                .values(lease_owner="other", lease_until=later)
            )
        return result

    monkeypatch.setitem(PROVIDERS, "icontact", dataclasses.replace(provider, apply_actions=stalled))
    purchase(engine, "kept@example.com", product_id="999")
    purchase(engine, "taken@example.com", product_id="999")
    run_jobs()
    with app.app_context():
        session = app.extensions["addon"].db.session
        rows = session.execute(
            select(Delivery.email, Delivery.status, Delivery.lease_owner, Delivery.attempts)
        ).all()
    assert sorted(rows) == [
        ("kept@example.com", "success", None, 1),
        ("taken@example.com", "pending", "other", 0),
    ]


def slow_network(monkeypatch, seconds, before_calls=None):
    """iContact a network away: each batch's calls take ``seconds`` longer. Returns the
    timeline, ``("calls", batches out at once, emails)`` as each batch's calls start, and
    the batches out: started by the drain, their calls not yet done."""
    import dataclasses

    from addon.engine.applying import Applying
    from addon.providers import PROVIDERS

    provider = PROVIDERS["icontact"]
    timeline, out = [], []
    real_start = Applying.start

    def start(applying, *args, **kw):
        # Out from the moment it is handed to the calls thread, which may start it later.
        out.append(applying)
        return real_start(applying, *args, **kw)

    def far_away(client, actions, known, **options):
        timeline.append(("calls", len(out), [a.customer["email"] for a in actions]))
        try:
            if before_calls is not None:
                before_calls(len([t for t in timeline if t[0] == "calls"]))
            time.sleep(seconds)
            return provider.apply_actions(client, actions, known, **options)
        finally:
            out.pop(0)

    monkeypatch.setattr(Applying, "start", start)
    far = dataclasses.replace(provider, apply_actions=far_away)
    monkeypatch.setitem(PROVIDERS, "icontact", far)
    return timeline, out


def spy_on_claims(monkeypatch, timeline, out):
    from addon.engine import leases

    real_claim = leases.claim

    def claim(*args, **kw):
        batch = real_claim(*args, **kw)
        timeline.append(("claim", len(batch), bool(out)))
        return batch

    monkeypatch.setattr(leases, "claim", claim)


def test_a_drain_prepares_the_next_batch_while_a_slow_icontact_works_on_the_current_one(
    app, engine, rules, integration, icontact, monkeypatch
):
    """When a batch waits longer for iContact than the worker works on it, the next claim
    overlaps that wait; the calls themselves stay one batch at a time, in claim order."""
    from addon.engine import expansion, jobs

    configure(app, ADDON_CLAIM_BATCH=10, ADDON_CLAIM_BATCH_MAX=10)
    emails = [f"p{n:02}@example.com" for n in range(40)]
    for email in emails:
        purchase(engine, email, product_id="999")  # the global rule only: one delivery each
    timeline, out = slow_network(monkeypatch, 0.6)
    spy_on_claims(monkeypatch, timeline, out)
    with app.app_context():
        expansion.expand_waiting(context(), "acme", draining=integration.id)
        jobs.drain_integration(integration.id)
    claims_while_out = [size for kind, size, busy in timeline if kind == "claim" and busy]
    assert claims_while_out[:2] == [10, 10]
    assert {at_once for kind, at_once, _ in timeline if kind == "calls"} == {1}
    assert [e for kind, _, sent in timeline if kind == "calls" for e in sent] == emails
    entries = engine.logs("acme", limit=100)
    assert len(entries) == 40 and {e.status for e in entries} == {"success"}


def test_batches_go_one_after_the_other_when_icontact_answers_quickly(
    app, engine, rules, integration, icontact, monkeypatch
):
    """A nearby API: overlapping would save nothing, the two threads would only take turns."""
    from addon.engine import drain, expansion, jobs

    configure(app, ADDON_CLAIM_BATCH=10)
    for n in range(40):
        purchase(engine, f"q{n:02}@example.com", product_id="999")
    timeline, out = slow_network(monkeypatch, 0.0)
    spy_on_claims(monkeypatch, timeline, out)
    real_prepare = drain.prepare_batch

    def slower_than_the_calls(*args, **kw):
        # CPU: the worker's own work outlasts the calls, by a margin that holds on a loaded
        # machine too (the calls' wall time grows with the load, the CPU second does not).
        busy_until = time.thread_time() + 1.5
        while time.thread_time() < busy_until:
            pass
        return real_prepare(*args, **kw)

    monkeypatch.setattr(drain, "prepare_batch", slower_than_the_calls)
    with app.app_context():
        expansion.expand_waiting(context(), "acme", draining=integration.id)
        jobs.drain_integration(integration.id)
    assert [size for kind, size, busy in timeline if kind == "claim" and busy] == []
    assert {e.status for e in engine.logs("acme", limit=100)} == {"success"}


def test_rejected_credentials_hold_the_batch_out_and_the_one_prepared_behind_it(
    app, engine, rules, integration, icontact, run_jobs, call_log, monkeypatch
):
    from addon.store.models import Delivery

    configure(app, ADDON_CLAIM_BATCH=10, ADDON_CLAIM_BATCH_MAX=10)
    for n in range(40):
        purchase(engine, f"r{n:02}@example.com", product_id="999")

    def revoke_at_the_second_batch(batch_number):
        if batch_number == 2:
            icontact.change_password(USERNAME, "a-new-app-password")

    timeline, out = slow_network(monkeypatch, 0.3, before_calls=revoke_at_the_second_batch)
    spy_on_claims(monkeypatch, timeline, out)
    run_jobs()
    assert [size for kind, size, busy in timeline if kind == "claim" and busy][:1] == [10]
    entries = engine.logs("acme", limit=100)
    assert sorted(e.status for e in entries) == ["pending"] * 30 + ["success"] * 10
    held = [e for e in entries if e.message and "rejected the credentials" in e.message]
    assert len(held) == 10  # the batch whose calls were refused says why
    # The batch prepared behind it was never sent: 10 + at most 10 lookups, 1 create, 1 subscribe.
    assert [t[0] for t in timeline].count("calls") == 2
    assert len(call_log) <= 22
    with app.app_context():
        leased = (
            app.extensions["addon"]
            .db.session.scalars(select(Delivery.id).where(Delivery.lease_owner.is_not(None)))
            .all()
        )
    assert leased == []


def test_a_batch_prepared_behind_another_knows_the_contacts_that_one_created(
    app, engine, lookups, rules, integration, icontact, run_jobs, monkeypatch
):
    """The next batch is claimed while the one before it is out, but its cached contact ids
    are read when its own calls start: a customer that batch created costs no lookup."""
    from addon.providers.icontact.client import IContactClient

    configure(app, ADDON_CLAIM_BATCH=10)
    looked_up = []
    real_find = IContactClient.find_contact

    def find_contact(self, email):
        looked_up.append(email)
        return real_find(self, email)

    monkeypatch.setattr(IContactClient, "find_contact", find_contact)
    for n in range(9):
        purchase(engine, f"before{n}@example.com", product_id="999")  # one delivery each
    purchase(engine, "both@example.com", product_id="101")  # two: the 10th and the 11th
    for n in range(9):
        purchase(engine, f"after{n}@example.com", product_id="999")
    run_jobs()
    entries = engine.logs("acme", limit=100)
    assert len(entries) == 20 and {e.status for e in entries} == {"success"}
    assert looked_up.count("both@example.com") == 1


def test_a_delivery_whose_event_was_deleted_after_its_lease_is_left_out_of_the_batch(
    app, engine, integration, purchase_rule, monkeypatch
):
    """A claim commits its lease before it reads the batch's events: an event deleted in
    between took its deliveries with it, and the batch goes on without them."""
    from sqlalchemy import delete

    from addon.engine import claimed, expansion, leases
    from addon.store.models import Event

    purchase(engine, "gone@example.com")
    purchase(engine, "kept@example.com")
    real_records = claimed.claimed_records

    def event_deleted_first(ctx, rows):
        with app.extensions["addon"].db.engine.begin() as other:
            other.execute(delete(Event).where(Event.email_key == "gone@example.com"))
        return real_records(ctx, rows)

    with app.app_context():
        expansion.expand_waiting(context(), "acme", draining=integration.id)
        monkeypatch.setattr(leases, "claimed_records", event_deleted_first)
        batch = leases.claim(context(), integration.id, "me", limit=10)
        assert [d.email for d in batch] == ["kept@example.com"]
