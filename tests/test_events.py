"""emit(): bad input is refused naming the field; good input is stored and queued, never sent."""

import pytest
from sqlalchemy import func, select

from addon import InvalidEvent
from addon.store.models import Event

GOOD = dict(
    marketplace_id="acme",
    customer={"email": "ann@example.com"},
    product_id="101",
    purchase_type="primary",
)


def emit_with(engine, event_type="product.purchased", **changes):
    kwargs = {**GOOD, **changes}
    return engine.emit(event_type, **{k: v for k, v in kwargs.items() if v is not ...})


@pytest.mark.parametrize(
    "event_type, changes, field",
    [
        ("order.completed", {}, "type"),
        ("product.purchased", {"marketplace_id": ""}, "marketplace_id"),
        ("product.purchased", {"customer": "ann@example.com"}, "customer"),
        ("product.purchased", {"customer": {}}, "customer.email"),
        ("product.purchased", {"customer": {"email": 42}}, "customer.email"),
        ("product.purchased", {"customer": {"email": "a@b.co", "age": 3}}, "customer.age"),
        (
            "product.purchased",
            {"customer": {"email": "a@b.co", "first_name": 7}},
            "customer.first_name",
        ),
        ("product.purchased", {"product_id": ...}, "product_id"),
        ("product.purchased", {"product_id": ["x"]}, "product_id"),
        ("product.purchased", {"purchase_type": "gift"}, "purchase_type"),
        ("product.purchased", {"colour": "red"}, "colour"),
        ("product.refunded", {"purchase_type": ..., "amount": -1}, "amount"),
        ("prospect.created", {"purchase_type": ...}, "prospect_id"),
        ("subscription.charged", {"purchase_type": ...}, "subscription_id"),
        ("product.purchased", {"event_id": "has spaces"}, "id"),
    ],
)
def test_bad_events_raise_invalid_event_naming_the_field(engine, event_type, changes, field):
    with pytest.raises(InvalidEvent) as info:
        emit_with(engine, event_type, **changes)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)
    assert engine.db.session.scalar(select(func.count(Event.id))) == 0


def test_emit_returns_a_generated_id_and_stores_the_event(engine):
    event_id = emit_with(engine)
    stored = engine.db.session.scalar(select(Event))
    assert stored.event_id == event_id and len(event_id) == 32
    assert stored.payload["customer"] == {"email": "ann@example.com"}


def test_emit_never_calls_icontact(engine, integration, icontact):
    before = icontact.stats.total_calls
    emit_with(engine)
    assert icontact.stats.total_calls == before


def test_emit_enqueues_one_job(app, engine):
    emit_with(engine)
    assert engine.state(app).queue.count == 1


def callers_order(engine):
    """Uncommitted work of the caller's own (an integration row stands in for an order)."""
    from addon.store.models import Integration

    engine.db.session.add(
        Integration(
            marketplace_id="x",
            provider="icontact",
            label="l",
            username="u",
            secret="s",
            account_id="1",
            client_folder_id="2",
        )
    )


def test_emit_joins_the_callers_transaction(app, engine):
    callers_order(engine)
    emit_with(engine, event_id="joined-1")
    assert engine.state(app).queue.count == 0
    engine.db.session.rollback()
    assert engine.db.session.scalar(select(func.count(Event.id))) == 0
    assert engine.state(app).queue.count == 0


def test_emit_in_a_committed_caller_transaction_enqueues_after_commit(app, engine):
    callers_order(engine)
    emit_with(engine, event_id="joined-2")
    assert engine.state(app).queue.count == 0
    engine.db.session.commit()
    assert engine.state(app).queue.count == 1


def test_emit_survives_a_redis_outage(app, engine):
    app.extensions["addon"].state(app).queue.connection.connection_pool.connection_kwargs[
        "port"
    ] = 9
    app.extensions["addon"].state(app).queue.connection.connection_pool.reset()
    event_id = emit_with(engine)
    assert engine.db.session.scalar(select(Event.event_id)) == event_id


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"customer": {"email": "a@b.co", "first_name": "\ud800"}}, "customer.first_name"),
        ({"customer": {"email": "a@b.co", "\ud800": "x"}}, "customer"),
        ({"product_id": "\udfff"}, "product_id"),
    ],
)
def test_text_that_is_not_valid_unicode_is_refused(engine, changes, field):
    with pytest.raises(InvalidEvent) as info:
        emit_with(engine, **changes)
    assert info.value.field == field
    str(info.value).encode("utf-8")  # the message itself is printable
