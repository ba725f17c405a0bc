"""A batch slower than its lease (a slow iContact): the worker renews its leases while it
works, so no other worker claims the batch and applies it a second time (which logged each
refund "skipped: already unsubscribed" and let a stale copy undo the customer's next
purchase, before leases were renewed and checked).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from addon.store.models import Delivery
from tests.faults.scenario import APP_ID, PASSWORD, wait_until_done

CUSTOMERS = 10
USERNAME = "solo@icontact.test"


@pytest.fixture
def fault_settings(fault_settings):
    # Four-second leases against 0.4 s calls: a batch of ten removes takes about eight.
    return {**fault_settings, "ADDON_LEASE_SECONDS": "4", "ADDON_SWEEP_INTERVAL": "1"}


def emit(engine, event_type: str, round_: str, n: int) -> None:
    fields = {"purchase_type": "primary"} if event_type == "product.purchased" else {}
    engine.emit(
        event_type,
        marketplace_id="solo",
        customer={"email": f"c{n}@example.com"},
        event_id=f"{round_}-{n}",
        product_id="1",
        **fields,
    )


def test_a_batch_that_outlives_its_lease_keeps_the_last_action(fault_stack):
    stack = fault_stack
    stack.sim.state.register(USERNAME, APP_ID, PASSWORD, lists=["Customers"])
    with stack.app.app_context():
        engine = stack.app.extensions["addon"]
        integration = engine.connect("solo", label="solo", username=USERNAME, password=PASSWORD)
        for trigger, action in (("product.purchased", "add"), ("product.refunded", "remove")):
            engine.add_rule(
                "solo",
                trigger=trigger,
                integration_id=integration.id,
                action=action,
                list_name="Customers",
            )
        # Everything is waiting when the workers start, so one of them claims all ten
        # refunds in one batch; the second purchases wait behind them.
        for n in range(CUSTOMERS):
            emit(engine, "product.purchased", "buy", n)
        for n in range(CUSTOMERS):
            emit(engine, "product.refunded", "refund", n)
        for n in range(CUSTOMERS):
            emit(engine, "product.purchased", "buy-again", n)
    stack.sim.faults(latency=0.4)
    stack.workers.start_all()
    assert wait_until_done(stack.app, 120) is None
    stack.sim.wait_quiet(3.0)  # a stale worker may go on calling after the log says done
    stack.workers.close()
    [customers] = [item["listId"] for item in stack.sim.state.lists(USERNAME)]
    with stack.app.app_context():
        refunds = stack.app.extensions["addon"].db.session.scalars(
            select(Delivery.status).where(Delivery.event_id.like("refund-%"))
        )
        outcome = (stack.sim.state.subscribers(customers), sorted(refunds))
    # Each customer bought, was refunded (one unsubscribe each: a success), then bought again.
    assert outcome == (
        {f"c{n}@example.com": "normal" for n in range(CUSTOMERS)},
        ["success"] * CUSTOMERS,
    )
