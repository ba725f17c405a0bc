"""Nothing lost, nothing doubled, nothing wrong in iContact: thousands of events through real
Redis, real workers and the simulator while seven kinds of fault hit them.

Faults, each while events flow: simulator latency; random 500s; the 503 throttle
(``calls_per_minute``); 401s after the merchant changes the application password (fixed later
with ``update_integration``); a list deleted in iContact; Redis stopped and started again; a
worker SIGKILLed mid-job. Then the database and iContact are compared with the rules.
A database outage (PostgreSQL stopped and started again) has a run of its own, with the
default lease, in ``test_database_outage.py``.
"""

from __future__ import annotations

import time

from tests.faults.audit import Figures, audit, evidence
from tests.faults.scenario import Emitter, FaultScript, connect_all, wait_until_done
from tests.faults.workload import plan

# Emitting pace: steady enough that every fault meets live traffic, short enough for CI.
EVENTS_PER_SECOND = 40
MIN_EMIT_SECONDS = 20.0


def test_events_survive_every_fault_exactly_once(fault_stack, fault_events):
    started = time.monotonic()
    stack = fault_stack
    setup, integrations = connect_all(stack)
    planned = plan(fault_events, seed=fault_events)
    seconds = max(MIN_EMIT_SECONDS, fault_events / EVENTS_PER_SECOND)
    stack.workers.start_all()
    stack.workers.wait_ready(stack.redis.client())

    emitter = Emitter(stack.app, stack.redis, planned, seconds)
    script = FaultScript(stack, integrations, seconds)
    script.start()
    try:
        emitter.run()
    except BaseException:
        script.halt()
        raise
    finally:
        script.join(timeout=seconds + 60)
    stack.sim.calm()
    still_open = wait_until_done(stack.app, timeout=120 + 0.08 * fault_events)
    # A worker still holding a stale batch may go on calling after the log says done.
    stack.sim.wait_quiet(3.0)
    stack.workers.close()

    figures = Figures(faults=len(set(script.kinds)), events=len(emitter.emitted))
    with stack.app.app_context():
        db = stack.app.extensions["addon"].db.session
        audit(db, stack.sim, emitter.emitted, setup, figures)
        signs = evidence(db, stack.sim)
    print(
        f"\nfault run: {', '.join(script.kinds)}; {'; '.join(script.notes)}; {signs}; "
        f"{len(planned)} sends "
        f"({len(planned) - len(emitter.emitted)} repeats), "
        f"{len(emitter.during_outage)} events emitted while Redis was down, "
        f"{figures.expected_failures} expected failures (invalid email, deleted list), "
        f"{stack.workers.kills} worker(s) SIGKILLed, {stack.workers.restarts} restarted after "
        f"exiting, {time.monotonic() - started:.0f} s"
    )
    print(figures.line())

    details = (
        f"{figures.explain()}\nstill open: {still_open}\nscript: {script.notes}\n"
        f"emit errors: {emitter.errors[:5]}\n{stack.workers.log_tail()}"
    )
    assert script.error is None, f"the fault script failed: {script.error!r}"
    assert figures.faults >= 6, script.kinds
    assert not emitter.errors, details
    assert figures.lost == 0, details
    assert figures.duplicated == 0, details
    assert figures.wrong_state == 0, details
