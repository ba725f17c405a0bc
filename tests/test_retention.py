"""Retention: stored events are kept ADDON_EVENT_RETENTION_DAYS, apart from the log's limit,
and pruned in small chunks without losing work still to do."""

import datetime as dt

from sqlalchemy import func, select, update

from addon.engine.retention import prune_alarms, prune_events
from addon.store.bookkeeping import Alarm
from addon.store.models import PENDING, Delivery, Event
from tests.conftest import configure, purchase


def _ctx(app):
    with app.app_context():
        return app.extensions["addon"].state(app).context


def _age(engine, event_ids, days):
    db = engine.db.session
    db.execute(
        update(Event)
        .where(Event.event_id.in_(event_ids))
        .values(created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=days))
    )
    db.commit()


def test_events_older_than_the_retention_go_with_their_log_entries(
    app, engine, purchase_rule, run_jobs
):
    configure(app, ADDON_EVENT_RETENTION_DAYS=30)
    for n in range(5):
        purchase(engine, f"user{n}@example.com", event_id=f"o-{n}")
    run_jobs()
    _age(engine, ["o-0", "o-1", "o-2"], days=31)
    _age(engine, ["o-3"], days=29)
    with app.app_context():
        deleted = prune_events(_ctx(app), chunk=2)
        db = engine.db.session
        assert deleted == 3
        assert sorted(db.scalars(select(Event.event_id))) == ["o-3", "o-4"]
        assert sorted(db.scalars(select(Delivery.event_id))) == ["o-3", "o-4"]


def test_old_events_with_work_still_to_do_are_kept(app, engine, purchase_rule):
    configure(app, ADDON_EVENT_RETENTION_DAYS=30)
    purchase(engine, "ann@example.com", event_id="waiting")  # never matched: no worker ran
    _age(engine, ["waiting"], days=90)
    with app.app_context():
        ctx = _ctx(app)
        assert prune_events(ctx) == 0
        db = engine.db.session
        db.execute(update(Event).values(expanded_at=func.now()))
        db.commit()
        event = db.scalar(select(Event))
        db.add(
            Delivery(
                marketplace_id="acme",
                event_pk=event.id,
                rule_id=purchase_rule.id,
                integration_id=purchase_rule.integration_id,
                event_id=event.event_id,
                event_type=event.type,
                trigger=event.type,
                email="ann@example.com",
                email_key="ann@example.com",
                rule_scope="global",
                integration_label="x",
                action="add",
                list_id="1",
                list_name="Customers",
                status=PENDING,
                sequence_at=event.created_at,
                next_attempt_at=event.created_at,
            )
        )
        db.commit()
        assert prune_events(ctx) == 0
        assert db.scalar(select(func.count()).select_from(Event)) == 1


def test_a_storefront_event_is_logged_with_the_cause_event(engine, purchase_rule, run_jobs):
    purchase(engine, "ann@example.com", event_id="o-1")
    run_jobs()
    [entry] = engine.logs("acme")
    assert entry.cause == "event"


def test_alarms_older_than_the_retention_are_pruned_too(app, engine):
    configure(app, ADDON_EVENT_RETENTION_DAYS=30)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    db = engine.db.session
    for days in (45, 31, 29, 0):
        db.add(
            Alarm(
                marketplace_id="acme",
                integration_id=None,
                integration_label="",
                condition="test",
                subject=f"{days} days old",
                message="A test alarm.",
                channels={},
                created_at=now - dt.timedelta(days=days),
            )
        )
    db.commit()
    with app.app_context():
        assert prune_alarms(_ctx(app)) == 2
        assert sorted(db.scalars(select(Alarm.subject))) == ["0 days old", "29 days old"]
