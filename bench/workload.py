"""The benchmark's storefront: one marketplace, six lists, two rules per purchase, the events.

Every ``product.purchased`` event matches the global rule (list "All customers") and the rule
of its product (list "Product N"), so each event makes two deliveries.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from flask import Flask
from rq import Queue

MARKETPLACE = "bench-shop"
PRODUCTS = ("p1", "p2", "p3", "p4", "p5")
GLOBAL_LIST = "All customers"
LISTS = [GLOBAL_LIST, *(f"Product {p}" for p in PRODUCTS)]


@dataclass(frozen=True)
class Purchase:
    """One event to emit: who bought which product."""

    event_id: str
    email: str
    first_name: str
    product_id: str

    def list_names(self) -> tuple[str, str]:
        """The two lists this purchase subscribes the customer to."""
        return GLOBAL_LIST, f"Product {self.product_id}"


def purchases(customers: int, per_customer: int = 5, seed: int = 1, prefix: str = "c") -> list:
    """``customers × per_customer`` purchases: each customer buys each product once (for 5),
    in a shuffled order, so the first purchases meet a cold contact cache and later ones don't.
    """
    pairs = [(c, PRODUCTS[k % 5]) for c in range(customers) for k in range(per_customer)]
    random.Random(seed).shuffle(pairs)
    return [
        Purchase(f"{prefix}-ev-{n}", f"{prefix}{c}@shop.example", f"Customer{c}", product)
        for n, (c, product) in enumerate(pairs)
    ]


def unique_purchases(count: int, prefix: str) -> list:
    """Purchases by ``count`` different new customers (each subscription is new)."""
    return [
        Purchase(f"{prefix}-ev-{n}", f"{prefix}{n}@shop.example", f"New{n}", PRODUCTS[n % 5])
        for n in range(count)
    ]


def set_up_marketplace(app: Flask, username: str, password: str) -> int:
    """Connect the integration and add the global rule and one rule per product.

    Returns:
        The integration id.
    """
    with app.app_context():
        engine = app.extensions["addon"]
        integration = engine.connect(
            MARKETPLACE, label="Bench iContact", username=username, password=password
        )
        engine.add_rule(
            MARKETPLACE,
            trigger="product.purchased",
            integration_id=integration.id,
            action="add",
            list_name=GLOBAL_LIST,
        )
        for product in PRODUCTS:
            engine.add_rule(
                MARKETPLACE,
                trigger="product.purchased",
                integration_id=integration.id,
                action="add",
                list_name=f"Product {product}",
                product_id=product,
            )
        return integration.id


def emit(app: Flask, purchase: Purchase) -> None:
    """Emit one purchase as the storefront would (outside any transaction of its own)."""
    app.extensions["addon"].emit(
        "product.purchased",
        marketplace_id=MARKETPLACE,
        customer={"email": purchase.email, "first_name": purchase.first_name},
        event_id=purchase.event_id,
        product_id=purchase.product_id,
        purchase_type="primary",
    )


def emit_all(app: Flask, batch: list[Purchase]) -> list[float]:
    """Emit every purchase back to back; returns each emit's duration in seconds."""
    durations = []
    with app.app_context():
        session = app.extensions["addon"].db.session
        for purchase in batch:
            start = time.perf_counter()
            emit(app, purchase)
            durations.append(time.perf_counter() - start)
            session.remove()
    return durations


def bare_enqueue(redis_url: str, count: int) -> list[float]:
    """Durations of ``count`` bare ``Queue.enqueue`` calls of a no-op job (the emit yardstick)."""
    from redis import Redis  # noqa: PLC0415

    queue = Queue("bench-bare", connection=Redis.from_url(redis_url))
    durations = []
    for _ in range(count):
        start = time.perf_counter()
        queue.enqueue("bench.naive.noop")
        durations.append(time.perf_counter() - start)
    queue.empty()
    return durations
