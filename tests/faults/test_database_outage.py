"""PostgreSQL stopped for a few seconds while purchases flow through two workers: within a
minute of its return every delivery is settled, the log says what iContact holds, and nothing
is lost or doubled.

Before workers handed their work back, a worker that could not write a batch's outcomes (or
give its leases back) left the batch leased for a whole lease (``ADDON_LEASE_SECONDS``, five
minutes): customers sat on the iContact list while their log entries said *Pending — queued*.
The run keeps the default lease and sweep interval for that reason: with the fault suite's
short leases, a stall that long would go unseen.

Runs only on a PostgreSQL server of this machine that the run may stop (root and
``pg_ctlcluster``); ``FAULT_DATABASE_OUTAGE=0`` skips it (the server is shared: every client
loses its connections for the outage).
"""

from __future__ import annotations

import os
import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from addon import config as defaults
from addon.models import Delivery
from tests.faults.audit import Figures, audit, evidence
from tests.faults.scenario import Emitter, FaultStack, connect_all, wait_until_done
from tests.faults.stack import PostgresServer
from tests.faults.workload import DELETED_LIST, plan

#: How long the server stays down: a restart, a fail-over.
OUTAGE_SECONDS = 6.0
#: Everything must be settled this long after the server answers again.
SETTLE_SECONDS = 60.0
#: When, as a fraction of the emitting time, the server stops.
OUTAGE_AT = 0.35


@pytest.fixture
def postgres(database_uri) -> PostgresServer:
    server, why_not = PostgresServer.serving(database_uri)
    if server is None:
        pytest.skip(f"no database outage: {why_not}")
    return server


@pytest.fixture
def fault_settings(fault_settings):
    # The defaults of a real deployment: what a stalled batch costs is a lease.
    return {
        **fault_settings,
        "ADDON_LEASE_SECONDS": str(defaults.ADDON_LEASE_SECONDS),
        "ADDON_SWEEP_INTERVAL": str(defaults.ADDON_SWEEP_INTERVAL),
    }


@pytest.fixture
def fault_workers() -> int:
    return 2


class Outage(threading.Thread):
    """Stops the server once a batch is out (deliveries leased, their calls under way) and
    starts it again ``OUTAGE_SECONDS`` later."""

    def __init__(self, stack: FaultStack, server: PostgresServer, at: float):
        super().__init__(name="database-outage", daemon=True)
        self.stack, self.server, self.at = stack, server, at
        self.leased_at_stop = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            time.sleep(self.at)
            with self.stack.app.app_context():
                db = self.stack.app.extensions["addon"].db.session
                deadline = time.monotonic() + 5
                while not self.leased_at_stop and time.monotonic() < deadline:
                    self.leased_at_stop = db.execute(
                        select(func.count())
                        .select_from(Delivery)
                        .where(Delivery.status == "pending", Delivery.lease_owner.is_not(None))
                    ).scalar_one()
                    db.commit()
                    time.sleep(0.02)
            self.server.stop()
            time.sleep(OUTAGE_SECONDS)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            if not self.server.up:
                self.server.start()


def test_work_settles_within_a_minute_of_the_database_coming_back(
    postgres, fault_stack, fault_events
):
    stack = fault_stack
    setup, _integrations = connect_all(stack)
    # The list the audit expects deleted in iContact goes before the run (its deliveries fail,
    # saying so); this run's fault is the database alone.
    marketplace, name = DELETED_LIST
    [doomed] = [
        item["listId"]
        for item in stack.sim.state.lists(f"{marketplace}@icontact.test")
        if item["name"] == name
    ]
    stack.sim.state.delete_list(doomed)
    events = max(200, fault_events // 10)
    seconds = max(12.0, events / 25)
    planned = plan(events, seed=events + 14)
    # Calls slow enough that the server goes away while a batch is out.
    stack.sim.faults(latency=0.1)
    stack.workers.start_all()
    stack.workers.wait_ready(stack.redis.client())

    emitter = Emitter(stack.app, stack.redis, planned, seconds, database=postgres)
    outage = Outage(stack, postgres, OUTAGE_AT * seconds)
    outage.start()
    try:
        emitter.run()
    finally:
        outage.join(timeout=OUTAGE_SECONDS + 60)
    assert outage.error is None, f"the outage failed: {outage.error!r}"
    assert postgres.returned_at is not None
    # Watch longer than the limit, so a failure says how long the stall lasted.
    watch = float(os.environ.get("FAULT_SETTLE_WATCH") or SETTLE_SECONDS + 30)
    still_open = wait_until_done(stack.app, timeout=watch)
    settled = time.monotonic() - postgres.returned_at
    stack.sim.calm()
    stack.sim.wait_quiet(3.0)
    stack.workers.close()

    figures = Figures(faults=1, events=len(emitter.emitted))
    signs = "no evidence read"
    with stack.app.app_context():
        db = stack.app.extensions["addon"].db.session
        for _attempt in range(10):  # this process's pooled connections died with the server
            try:
                audit(db, stack.sim, emitter.emitted, setup, figures)
                signs = evidence(db, stack.sim)
                break
            except OperationalError:
                db.rollback()
                figures = Figures(faults=1, events=len(emitter.emitted))
                time.sleep(0.5)
    print(
        f"\ndatabase outage: {OUTAGE_SECONDS:g} s with {outage.leased_at_stop} deliveries "
        f"leased at the stop; {emitter.refused_without_database} sends refused meanwhile; "
        f"settled {settled:.1f} s after the database came back"
        f"{'' if still_open is None else f' (still open: {still_open})'}; {signs}"
    )
    print(figures.line())
    details = (
        f"{figures.explain()}\nstill open: {still_open}\nemit errors: {emitter.errors[:5]}\n"
        f"{stack.workers.log_tail()}"
    )
    assert outage.leased_at_stop, "no batch was out when the database stopped"
    assert still_open is None and settled <= SETTLE_SECONDS, (
        f"not settled {settled:.0f} s after the database came back: {still_open}\n{details}"
    )
    assert not emitter.errors, details
    assert figures.lost == 0, details
    assert figures.duplicated == 0, details
    assert figures.wrong_state == 0, details
