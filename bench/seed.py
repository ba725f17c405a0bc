"""Bulk-seeded databases for the UI benchmark: N marketplaces, each with one integration, six
lists, 20 rules and a full log (``per_marketplace`` deliveries from half as many events).

Rows go in with SQLAlchemy Core in large ``executemany`` batches; the schema is the add-on's
own (``Base.metadata``), so the indexes are exactly the ones the models declare.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from sqlalchemy import Engine, event, insert

from addon.engine.triggers import TRIGGER_NAMES
from addon.store.models import (
    FAILED,
    PENDING,
    SKIPPED,
    SUCCESS,
    Base,
    Delivery,
    Event,
    Integration,
    ProviderList,
    Rule,
)

RULES_PER_MARKETPLACE = 20
LIST_NAMES = ("Customers", "Newsletter", "VIP", "Refunds", "Abandoned Carts", "Course Buyers")
PRODUCTS = tuple(f"prod-{n}" for n in range(1, 9))
CUSTOMERS_PER_MARKETPLACE = 300
# The log's mix of outcomes (success dominates, as in a healthy shop).
STATUS_WEIGHTS = ((SUCCESS, 86), (SKIPPED, 6), (FAILED, 6), (PENDING, 2))
CHUNK = 20_000


def marketplace_id(n: int) -> str:
    return f"shop-{n:04d}"


def customer_email(m: int, c: int) -> str:
    return f"customer{c:03d}.m{m}@mail{c % 7}.example"


def sqlite_pragmas(engine: Engine, *pragmas: str) -> None:
    """Run ``PRAGMA`` statements on every new connection of ``engine``."""

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()


def fast_sqlite(engine: Engine) -> None:
    """No fsync while seeding: the data is rebuilt if the machine crashes mid-way."""
    sqlite_pragmas(engine, "journal_mode=WAL", "synchronous=OFF")


def seed(engine: Engine, marketplaces: int, per_marketplace: int, seed_value: int = 7) -> None:
    """Create the add-on's tables and fill them (the database should be empty)."""
    Base.metadata.create_all(engine)
    rng = random.Random(seed_value)
    start = dt.datetime(2026, 10, 1)
    with engine.begin() as conn:
        conn.execute(insert(Integration), [_integration(m) for m in range(1, marketplaces + 1)])
        conn.execute(
            insert(ProviderList),
            [
                {"integration_id": m, "remote_id": str(205300 + 10 * m + k), "name": name}
                for m in range(1, marketplaces + 1)
                for k, name in enumerate(LIST_NAMES)
            ],
        )
        conn.execute(insert(Rule), [r for m in range(1, marketplaces + 1) for r in _rules(m)])
    for model, rows in (
        (Event, _events(marketplaces, per_marketplace // 2, rng, start)),
        (Delivery, _deliveries(marketplaces, per_marketplace, rng, start)),
    ):
        # Building an index once after the rows are in is faster than keeping it up to date.
        indexes = list(model.__table__.indexes)
        with engine.begin() as conn:
            for index in indexes:
                index.drop(conn)
            for chunk in _chunks(rows):
                conn.execute(insert(model), chunk)
            for index in indexes:
                index.create(conn)


def _integration(m: int) -> dict:
    return {
        "id": m,
        "marketplace_id": marketplace_id(m),
        "provider": "icontact",
        "label": "Main iContact",
        "username": f"owner{m}@shop.example",
        "secret": "not-a-real-token",
        "account_id": str(413000 + m),
        "client_folder_id": str(124000 + m),
        "status": "connected",
    }


def _rules(m: int) -> list[dict]:
    created = dt.datetime(2026, 9, 1)
    rules = []
    for k in range(RULES_PER_MARKETPLACE):
        list_no = k % len(LIST_NAMES)
        rules.append(
            {
                "marketplace_id": marketplace_id(m),
                "product_id": None if k < 4 else PRODUCTS[k % len(PRODUCTS)],
                "trigger": TRIGGER_NAMES[k % len(TRIGGER_NAMES)],
                "integration_id": m,
                "action": "remove" if k % 5 == 4 else "add",
                "list_id": str(205300 + 10 * m + list_no),
                "list_name": LIST_NAMES[list_no],
                "created_at": created + dt.timedelta(minutes=k),
            }
        )
    return rules


def _event_time(start: dt.datetime, n: int) -> dt.datetime:
    # Events spread over about 30 days, in order.
    return start + dt.timedelta(seconds=n * 2.6)


def _events(marketplaces: int, per: int, rng: random.Random, start) -> Iterator[dict]:
    pk = 0
    for m in range(1, marketplaces + 1):
        for n in range(per):
            pk += 1
            c = rng.randrange(CUSTOMERS_PER_MARKETPLACE)
            email = customer_email(m, c)
            product = PRODUCTS[n % len(PRODUCTS)]
            yield {
                "id": pk,
                "marketplace_id": marketplace_id(m),
                "event_id": f"evt_{m}_{n:05d}",
                "type": "product.purchased",
                "product_id": product,
                "prospect_id": None,
                "email_key": email,
                "payload": {
                    "customer": {"email": email, "first_name": f"Customer{c}"},
                    "product_id": product,
                    "purchase_type": "primary",
                },
                "created_at": _event_time(start, n),
                "expanded_at": _event_time(start, n),
            }


def _deliveries(marketplaces: int, per: int, rng: random.Random, start) -> Iterator[dict]:
    statuses = [s for s, _ in STATUS_WEIGHTS]
    weights = [w for _, w in STATUS_WEIGHTS]
    events_per = per // 2
    for m in range(1, marketplaces + 1):
        mid = marketplace_id(m)
        for n in range(per):
            event_n = n // 2
            event_pk = (m - 1) * events_per + event_n + 1
            c = rng.randrange(CUSTOMERS_PER_MARKETPLACE)
            email = customer_email(m, c)
            rule_no = n % 2 * 4 + (event_n % 4)
            list_no = rule_no % len(LIST_NAMES)
            list_id = str(205300 + 10 * m + list_no)
            status = rng.choices(statuses, weights)[0]
            created = _event_time(start, event_n)
            contact = str(66674160 + m * 1000 + c)
            yield {
                "marketplace_id": mid,
                "event_pk": event_pk,
                "rule_id": (m - 1) * RULES_PER_MARKETPLACE + rule_no + 1,
                "integration_id": m,
                "event_id": f"evt_{m}_{event_n:05d}",
                "event_type": "product.purchased",
                "trigger": "product.purchased",
                "product_id": PRODUCTS[event_n % len(PRODUCTS)],
                "email": email,
                "email_key": email,
                "rule_scope": "global" if n % 2 == 0 else "product",
                "integration_label": "Main iContact",
                "action": "add",
                "list_id": list_id,
                "list_name": LIST_NAMES[list_no],
                "status": status,
                "message": _message(status, contact, list_id),
                "detail": _detail(email, contact, list_id) if status != PENDING else None,
                "attempts": 0 if status == PENDING else 1,
                "sequence_at": created,
                "next_attempt_at": created,
                "created_at": created,
                "finished_at": None if status == PENDING else created + dt.timedelta(seconds=1),
            }


def _message(status: str, contact: str, list_id: str) -> str:
    if status == SUCCESS:
        return f"Subscribed existing contact {contact} to list {list_id}"
    if status == SKIPPED:
        return "skipped: a later event already changed this customer on this list"
    if status == FAILED:
        return "iContact refused the data: Invalid email address"
    return "queued"


def _detail(email: str, contact: str, list_id: str) -> dict:
    # A typical transcript: look-up and subscribe, as the log entry's details keep them.
    return {
        "calls": [
            {
                "method": "GET",
                "path": "/a/413323/c/124667/contacts",
                "params": {"email": email, "status": "total", "limit": 1},
                "status": 200,
                "response": {"contacts": [{"contactId": contact, "email": email}]},
            },
            {
                "method": "POST",
                "path": "/a/413323/c/124667/subscriptions",
                "request": [{"contactId": contact, "listId": list_id, "status": "normal"}],
                "status": 200,
                "response": {"subscriptions": [{"listId": list_id, "status": "normal"}]},
            },
        ],
        "contactId": contact,
    }


def _chunks(rows: Iterator[dict]) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
