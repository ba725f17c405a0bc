"""emit() is a guest in the host's transaction: it never commits it.

Whenever the engine's session has a transaction open (begun by any statement, ORM or Core, a
read or a write, or by ``session.begin()``), the event is written into it: it survives exactly
when the host's work commits, and its job is enqueued after that commit, never before. With no
transaction open the event is stored and committed alone. ``join=True`` / ``join=False`` say
which one the host means, and refuse the other clearly. The add-on's listeners follow the
engine's session only, never an unrelated session of the host's process.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import String, create_engine, func, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from addon import TransactionError
from addon.engine import outbox
from addon.engine.events import validate_event
from addon.store.models import Event
from tests.conftest import purchase


class HostBase(DeclarativeBase):
    """The host's own models, apart from the add-on's."""


class Order(HostBase):
    __tablename__ = "txn_host_order"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))


ORDERS = Order.__table__


@pytest.fixture
def orders(engine):
    """The host's order table, in the add-on's database, empty."""
    bind = engine.db.engine
    HostBase.metadata.create_all(bind)
    with bind.begin() as conn:
        conn.execute(ORDERS.delete())
    yield ORDERS
    engine.db.session.remove()
    HostBase.metadata.drop_all(bind)


def count(engine, table) -> int:
    """Rows committed to ``table``, seen from a connection of its own."""
    with engine.db.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))


def jobs(app, engine) -> int:
    return engine.state(app).queue.count


# What a host does in its checkout before it emits: each opens a transaction of its own kind.


def core_insert(db) -> None:
    db.session.execute(insert(ORDERS).values(email="ann@example.com"))


def read_only(db) -> None:
    # A stock check: a read, and nothing written yet.
    db.session.scalar(select(func.count()).select_from(ORDERS))


def orm_add(db) -> None:
    db.session.add(Order(email="ann@example.com"))


def orm_add_flushed(db) -> None:
    db.session.add(Order(email="ann@example.com"))
    db.session.flush()


HOST_WORK: dict[str, Callable] = {
    "core insert": core_insert,
    "read only": read_only,
    "orm add": orm_add,
    "orm add, flushed": orm_add_flushed,
}


def host_orders_written(work: Callable) -> int:
    return 0 if work is read_only else 1


@pytest.mark.parametrize("work", HOST_WORK.values(), ids=HOST_WORK.keys())
def test_a_rolled_back_checkout_keeps_neither_order_nor_event_nor_job(app, engine, orders, work):
    db = engine.db
    work(db)
    purchase(engine, event_id="order-1")
    db.session.rollback()
    assert count(engine, orders) == 0
    assert count(engine, Event.__table__) == 0
    assert jobs(app, engine) == 0


@pytest.mark.parametrize("work", HOST_WORK.values(), ids=HOST_WORK.keys())
def test_a_committed_checkout_keeps_both_and_enqueues_after_the_commit(app, engine, orders, work):
    db = engine.db
    work(db)
    purchase(engine, event_id="order-1")
    assert count(engine, Event.__table__) == 0, "emit committed the host's transaction"
    assert jobs(app, engine) == 0, "enqueued before the host committed"
    db.session.commit()
    assert count(engine, orders) == host_orders_written(work)
    assert count(engine, Event.__table__) == 1
    assert jobs(app, engine) == 1


def test_a_failing_begin_block_keeps_neither(app, engine, orders):
    db = engine.db
    with pytest.raises(RuntimeError, match="payment declined"):
        with db.session.begin():
            core_insert(db)
            purchase(engine, event_id="order-1")
            raise RuntimeError("payment declined")
    assert count(engine, orders) == 0
    assert count(engine, Event.__table__) == 0
    assert jobs(app, engine) == 0


def test_a_begin_block_commits_both_and_enqueues_on_leaving_it(app, engine, orders):
    db = engine.db
    with db.session.begin():
        core_insert(db)
        purchase(engine, event_id="order-1")
        assert jobs(app, engine) == 0
    assert count(engine, orders) == 1
    assert count(engine, Event.__table__) == 1
    assert jobs(app, engine) == 1


def test_a_savepoint_released_waits_for_the_outermost_commit(app, engine, orders):
    db = engine.db
    core_insert(db)
    with db.session.begin_nested():
        purchase(engine, event_id="order-1")
    assert jobs(app, engine) == 0, "enqueued when the savepoint was released"
    db.session.commit()
    assert count(engine, Event.__table__) == 1
    assert jobs(app, engine) == 1


def test_an_event_of_a_rolled_back_savepoint_is_forgotten(app, engine, orders):
    db = engine.db
    orm_add_flushed(db)
    with pytest.raises(RuntimeError):
        with db.session.begin_nested():
            purchase(engine, event_id="order-1")
            raise RuntimeError("this line item failed")
    db.session.commit()
    assert count(engine, orders) == 1
    assert count(engine, Event.__table__) == 0
    assert jobs(app, engine) == 0


@pytest.mark.parametrize("skip_known", ["in the insert", "by a look first"])
def test_a_repeated_event_id_leaves_the_callers_transaction_usable(
    app, engine, orders, monkeypatch, skip_known
):
    if skip_known == "by a look first":  # a database without INSERT ... ON CONFLICT
        monkeypatch.setattr(outbox, "_INSERT_NEW", {})
    db = engine.db
    purchase(engine, event_id="order-1")  # stored and committed alone earlier
    assert jobs(app, engine) == 1
    core_insert(db)
    assert purchase(engine, event_id="order-1") == "order-1"
    db.session.execute(insert(ORDERS).values(email="bob@example.com"))
    db.session.commit()
    assert count(engine, orders) == 2
    assert count(engine, Event.__table__) == 1
    assert jobs(app, engine) == 1


def test_a_transaction_closed_without_commit_drops_the_event_with_a_warning(
    app, engine, orders, caplog
):
    db = engine.db
    read_only(db)
    with caplog.at_level(logging.WARNING, logger="addon.outbox"):
        purchase(engine, event_id="order-1")
        db.session.close()  # what Flask-SQLAlchemy does when the request ends
    assert count(engine, Event.__table__) == 0
    assert jobs(app, engine) == 0
    assert "order-1" in caplog.text and "without a commit" in caplog.text


def test_with_no_transaction_open_emit_commits_the_event_alone(app, engine, orders):
    assert not engine.db.session().in_transaction()
    purchase(engine, event_id="order-1")
    assert count(engine, Event.__table__) == 1
    assert jobs(app, engine) == 1
    assert not engine.db.session().in_transaction()


def test_an_unrelated_session_is_left_alone(app, engine, orders):
    other_engine = create_engine("sqlite://")
    HostBase.metadata.create_all(other_engine)
    core_insert(engine.db)
    purchase(engine, event_id="order-1")
    with Session(other_engine) as other:
        other.add(Order(email="bob@example.com"))
        other.flush()
        assert other.info == {}, "the add-on's listeners ran on a session not its own"
        other.commit()
        assert other.info == {}
    assert jobs(app, engine) == 0
    engine.db.session.commit()
    assert jobs(app, engine) == 1


# -- saying which one you mean -------------------------------------------------------------


def test_join_true_writes_into_the_open_transaction(app, engine, orders):
    core_insert(engine.db)
    purchase(engine, event_id="order-1", join=True)
    assert jobs(app, engine) == 0
    engine.db.session.rollback()
    assert count(engine, orders) == 0
    assert count(engine, Event.__table__) == 0
    assert jobs(app, engine) == 0


def test_join_true_without_a_transaction_is_refused(app, engine, orders):
    assert not engine.db.session().in_transaction()
    with pytest.raises(TransactionError, match="no transaction is open"):
        purchase(engine, event_id="order-1", join=True)
    engine.db.session.commit()
    assert count(engine, Event.__table__) == 0
    assert jobs(app, engine) == 0


def test_join_false_commits_the_event_alone(app, engine, orders):
    purchase(engine, event_id="order-1", join=False)
    assert count(engine, Event.__table__) == 1
    assert jobs(app, engine) == 1


def test_join_false_inside_a_transaction_is_refused_and_leaves_it_intact(app, engine, orders):
    core_insert(engine.db)
    with pytest.raises(TransactionError, match="a transaction open"):
        purchase(engine, event_id="order-1", join=False)
    assert count(engine, orders) == 0, "the host's order was committed"
    engine.db.session.commit()
    assert count(engine, orders) == 1
    assert count(engine, Event.__table__) == 0
    assert jobs(app, engine) == 0


@pytest.mark.parametrize("join", ["yes", 1, 0])
def test_join_takes_only_true_false_or_none(app, engine, join):
    with pytest.raises(TypeError, match="join"):
        purchase(engine, event_id="order-1", join=join)
    assert count(engine, Event.__table__) == 0


# -- the add-on's own webhook, and the guide ------------------------------------------------


def test_the_webhook_commits_its_event_even_after_a_host_hook_read(app, engine, orders):
    # The webhook's request is the add-on's: a host hook (known_marketplace) that reads the
    # host's tables opens a transaction, and the event must still be committed before 202.
    read_only(engine.db)
    event = validate_event(
        "product.purchased",
        "acme",
        {"email": "ann@example.com"},
        "wh-1",
        {"product_id": "101", "purchase_type": "primary"},
    )
    assert outbox.record(engine.state().context, event) == ("wh-1", True)
    assert not engine.db.session().in_transaction()
    assert count(engine, Event.__table__) == 1
    assert jobs(app, engine) == 1


GUIDE = Path(__file__).resolve().parent.parent / "docs" / "mounting.md"


def guide_block(name: str) -> str:
    return re.search(rf"<!-- {name} -->\n```python\n(.*?)```", GUIDE.read_text(), re.S)[1]


@pytest.mark.parametrize("paid", [True, False], ids=["paid", "declined"])
def test_the_guides_core_checkout_in_a_begin_block(app, engine, orders, paid):
    def charge(order_id):
        if not paid:
            raise RuntimeError("declined")

    scope = {"db": engine.db, "engine": engine, "orders": orders, "charge": charge}
    scope.update(shop_id="acme", sku="101", email="ann@example.com")
    if paid:
        exec(guide_block("checkout-core"), scope)
    else:
        with pytest.raises(RuntimeError, match="declined"):
            exec(guide_block("checkout-core"), scope)
    assert count(engine, orders) == count(engine, Event.__table__) == int(paid)
    assert jobs(app, engine) == int(paid)
