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
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from addon import config as defaults
from addon.store.models import Delivery
from tests.faults.audit import Figures, audit, evidence
from tests.faults.scenario import Emitter, FaultStack, connect_all, wait_until_done
from tests.faults.stack import PostgresServer
from tests.faults.workload import DELETED_LIST, plan

#: How long the server stays down: a restart, a fail-over.
OUTAGE_SECONDS = 6.0
#: Everything must be settled this long after the server answers again.
SETTLE_SECONDS = 60.0
#: How long after the emitters finish the server may still take to stop and start again.
RETURN_WAIT_SECONDS = 90.0
#: When, as a fraction of the emitting time, the server stops.
OUTAGE_AT = 0.35


@pytest.fixture
def postgres(database_uri) -> Iterator[PostgresServer]:
    """The server, if the run may stop it; started again at the end whatever happened."""
    server, why_not = PostgresServer.serving(database_uri)
    if server is None:
        pytest.skip(f"no database outage: {why_not}")
    try:
        yield server
    finally:
        if not server.up:
            server.start()


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
    """Stops the server once a batch is out (deliveries leased, their calls under way), starts
    it again ``OUTAGE_SECONDS`` later, then times how long the deliveries out at the stop take
    to be final: the stall the issue measured (a lease, five minutes)."""

    def __init__(self, stack: FaultStack, server: PostgresServer, at: float, watch: float):
        super().__init__(name="database-outage", daemon=True)
        self.stack, self.server, self.at, self.watch = stack, server, at, watch
        #: The deliveries leased when the server stopped.
        self.out: list[int] = []
        #: Seconds from the server's return until every one of them was final (None: not
        #: within ``watch``).
        self.out_settled: float | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            time.sleep(self.at)
            with self.stack.app.app_context():
                db = self.stack.app.extensions["addon"].db.session
                deadline = time.monotonic() + 5
                while not self.out and time.monotonic() < deadline:
                    self.out = list(
                        db.scalars(
                            select(Delivery.id).where(
                                Delivery.status == "pending", Delivery.lease_owner.is_not(None)
                            )
                        )
                    )
                    db.commit()
                    time.sleep(0.02)
                self.server.stop()
                # The latency was there to catch a batch out; what comes after goes fast, so
                # the settle time is the engine's and not the simulator's.
                self.stack.sim.faults(latency=0.0)
                time.sleep(OUTAGE_SECONDS)
                self.server.start()
                self.out_settled = self._settle(db)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            if not self.server.up:
                self.server.start()

    def _settle(self, db) -> float | None:
        assert self.server.returned_at is not None
        while time.monotonic() - self.server.returned_at < self.watch:
            try:
                pending = db.execute(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.id.in_(self.out), Delivery.status == "pending")
                ).scalar_one()
                db.commit()
            except OperationalError:  # this process's connections died with the server
                db.rollback()
                pending = -1
            if pending == 0:
                return time.monotonic() - self.server.returned_at
            time.sleep(0.25)
        return None


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

    # Watch longer than the limit, so a failure says how long the stall lasted.
    watch = float(os.environ.get("FAULT_SETTLE_WATCH") or SETTLE_SECONDS + 30)
    emitter = Emitter(stack.app, stack.redis, planned, seconds, database=postgres)
    outage = Outage(stack, postgres, OUTAGE_AT * seconds, watch)
    outage.start()
    try:
        emitter.run()
        # A loaded machine may take longer to stop the server (its checkpoint) than the
        # emitters take to finish: the settle time counts from the return, so wait for it.
        deadline = time.monotonic() + RETURN_WAIT_SECONDS
        while postgres.returned_at is None and outage.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert postgres.returned_at is not None, (
            f"the database was not back {RETURN_WAIT_SECONDS:g} s after emitting ended"
        )
        still_open = wait_until_done(
            stack.app, timeout=max(1.0, watch - (time.monotonic() - postgres.returned_at))
        )
        settled = time.monotonic() - postgres.returned_at
    finally:
        outage.join(timeout=OUTAGE_SECONDS + watch + 60)
    assert outage.error is None, f"the outage failed: {outage.error!r}"
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
    out_settled = "never" if outage.out_settled is None else f"{outage.out_settled:.1f} s"
    print(
        f"\ndatabase outage: {OUTAGE_SECONDS:g} s; the {len(outage.out)} deliveries out at "
        f"the stop final {out_settled} after the database came back, everything "
        f"{settled:.1f} s after{'' if still_open is None else f' (still open: {still_open})'}; "
        f"{emitter.refused_without_database} sends refused meanwhile; {signs}"
    )
    print(figures.line())
    details = (
        f"{figures.explain()}\nstill open: {still_open}\nemit errors: {emitter.errors[:5]}\n"
        f"{stack.workers.log_tail()}"
    )
    assert outage.out, "no batch was out when the database stopped"
    assert outage.out_settled is not None and outage.out_settled <= SETTLE_SECONDS, (
        f"the deliveries out at the stop were not final {out_settled} after the return\n{details}"
    )
    assert still_open is None and settled <= SETTLE_SECONDS, (
        f"not settled {settled:.0f} s after the database came back: {still_open}\n{details}"
    )
    assert not emitter.errors, details
    assert figures.lost == 0, details
    assert figures.duplicated == 0, details
    assert figures.wrong_state == 0, details
