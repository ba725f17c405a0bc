"""Many-row writes with their parameters converted before the transaction writes (so that
SQLite's one write lock is held for the driver's work only) write what SQLAlchemy writes."""

import datetime as dt

import pytest
from sqlalchemy import bindparam, exc, insert, select, text, update

from addon.store.models import Delivery, Event
from addon.store.prepared import prepare

WHEN = dt.datetime(2026, 11, 27, 9, 30, 15, 123456)


def event_row(n: int) -> dict:
    return {
        "marketplace_id": "acme",
        "event_id": f"evt-{n}",
        "type": "product.purchased",
        "product_id": None,
        "prospect_id": None,
        "email_key": f"ann{n}@example.com",
        "payload": {"customer": {"email": f"Ann{n}@example.com"}, "amount": 12.5},
        "created_at": WHEN,
        "expanded_at": None,
    }


@pytest.fixture
def db(app):
    with app.app_context():
        yield app.extensions["addon"].db


def test_prepared_rows_read_back_exactly_as_sqlalchemys_own_insert_writes_them(db):
    db.session.execute(insert(Event), [event_row(1)])
    prepared = prepare(insert(Event.__table__), [event_row(2), event_row(3)], db.engine.dialect)
    prepared.execute(db.session.connection())
    db.session.commit()
    rows = db.session.execute(
        select(Event.event_id, Event.payload, Event.created_at, Event.expanded_at).order_by(
            Event.event_id
        )
    ).all()
    assert [tuple(row[1:]) for row in rows] == [
        (event_row(n)["payload"], WHEN, None) for n in (1, 2, 3)
    ]


def test_a_column_the_rows_leave_out_takes_its_default_as_with_sqlalchemys_insert(db):
    db.session.execute(insert(Event), [event_row(1)])
    prepare(insert(Event.__table__), [event_row(2)], db.engine.dialect).execute(
        db.session.connection()
    )
    db.session.commit()
    causes = db.session.scalars(select(Event.cause).order_by(Event.event_id)).all()
    assert causes == ["event", "event"]


def test_only_the_flagged_rows_are_written(db):
    prepared = prepare(insert(Event.__table__), [event_row(n) for n in range(4)], db.engine.dialect)
    prepared.only([True, False, False, True]).execute(db.session.connection())
    db.session.commit()
    assert db.session.scalars(select(Event.event_id).order_by(Event.event_id)).all() == [
        "evt-0",
        "evt-3",
    ]


def test_an_update_by_key_sets_each_rows_own_values_and_none_stays_null(db):
    db.session.execute(insert(Event), [event_row(n) for n in range(3)])
    db.session.commit()
    ids = db.session.scalars(select(Event.id).order_by(Event.id)).all()
    table = Event.__table__
    prepared = prepare(
        update(table).where(table.c.id == bindparam("event_pk")),
        [
            {"event_pk": ids[0], "expanded_at": WHEN, "product_id": "101"},
            {"event_pk": ids[1], "expanded_at": None, "product_id": None},
        ],
        db.engine.dialect,
    )
    prepared.execute(db.session.connection())
    db.session.commit()
    rows = db.session.execute(select(Event.expanded_at, Event.product_id).order_by(Event.id)).all()
    assert [tuple(row) for row in rows] == [(WHEN, "101"), (None, None), (None, None)]


def test_a_row_missing_a_value_the_statement_needs_fails_before_anything_is_written(db):
    incomplete = {k: v for k, v in event_row(1).items() if k != "email_key"}
    with pytest.raises(exc.InvalidRequestError, match="email_key"):
        prepare(insert(Event.__table__), [event_row(0), incomplete], db.engine.dialect)
    assert db.session.scalars(select(Event.id)).all() == []


def test_nothing_to_write_runs_nothing(db):
    prepare(insert(Delivery.__table__), [], db.engine.dialect).execute(db.session.connection())
    assert db.session.scalars(select(Delivery.id)).all() == []


@pytest.mark.parametrize(
    "when",
    [
        WHEN,
        dt.datetime(2026, 1, 2, 3, 4, 5),  # no microseconds
        dt.datetime(999, 12, 31, 23, 59, 59, 7),  # a year of three digits
        dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    ],
    ids=["microseconds", "whole-second", "year-999", "with-a-zone"],
)
def test_a_datetime_is_stored_as_the_very_text_sqlalchemys_own_insert_stores(db, when):
    db.session.execute(insert(Event), [{**event_row(1), "created_at": when}])
    prepare(
        insert(Event.__table__), [{**event_row(2), "created_at": when}], db.engine.dialect
    ).execute(db.session.connection())
    db.session.commit()
    stored = db.session.execute(
        text("SELECT CAST(created_at AS TEXT) FROM addon_event ORDER BY event_id")
    ).scalars()
    own, prepared = stored.all()
    assert prepared == own
