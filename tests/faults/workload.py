"""What the fault suite emits, and what iContact should hold afterwards.

The rules and the trigger table are written out here again on purpose: the oracle must not
borrow the engine's own matching, or it would agree with the engine's mistakes.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

MARKETPLACES = ("acme", "bolt", "cora")
LISTS = ("Customers", "Refunds", "VIP", "Churned", "Doomed")
#: The (marketplace, list) that the suite deletes in iContact mid-run.
DELETED_LIST = ("acme", "Doomed")
#: The marketplace whose merchant changes the application password mid-run.
PASSWORD_CHANGED = "bolt"
PRODUCTS = ("101", "102", "103", "999")  # 999: a product no rule names (global rules still fire)

# Which trigger names an event type fires (a delinquent subscription also counts as canceled).
FIRES = {
    "product.purchased": ("product.purchased",),
    "product.refunded": ("product.refunded",),
    "product.partially_refunded": ("product.partially_refunded",),
    "prospect.created": ("prospect.created",),
    "subscription.canceled": ("subscription.canceled",),
    "subscription.charged": ("subscription.charged",),
    "subscription.delinquent": ("subscription.delinquent", "subscription.canceled"),
    "subscription.recovered": ("subscription.recovered",),
    "subscription.restarted": ("subscription.restarted",),
}
TYPE_WEIGHTS = {
    "product.purchased": 40,
    "product.refunded": 12,
    "product.partially_refunded": 5,
    "prospect.created": 3,  # no rule uses it: stored and expanded into nothing
    "subscription.canceled": 8,
    "subscription.charged": 10,
    "subscription.delinquent": 6,
    "subscription.recovered": 8,
    "subscription.restarted": 8,
}
INVALID_EMAILS = ("no-at-sign{n}.example.com", "two{n}@@example.com", "spa ce{n}@example.com")
NAMES = ("Ann", "Zoë", "李雷", "O'Brien", "<script>alert(1)</script>", "Ma\u0301rta", "  Bo  ")


@dataclass(frozen=True)
class RuleSpec:
    trigger: str
    action: str
    list_name: str
    product_id: str | None = None  # None: a global rule

    def fires_for(self, event: Planned) -> bool:
        scope_ok = self.product_id is None or self.product_id == event.fields.get("product_id")
        return scope_ok and self.trigger in FIRES[event.type]


# The same rules in every marketplace. No event applies two actions to one list, so the
# expected state never depends on how the engine orders two rules of one event.
RULES = (
    RuleSpec("product.purchased", "add", "Customers"),
    RuleSpec("product.refunded", "remove", "Customers"),
    RuleSpec("product.refunded", "add", "Refunds"),
    RuleSpec("product.purchased", "add", "VIP", "101"),
    RuleSpec("product.refunded", "remove", "VIP", "101"),
    RuleSpec("product.partially_refunded", "add", "Refunds", "102"),
    RuleSpec("subscription.canceled", "add", "Churned"),
    RuleSpec("subscription.delinquent", "remove", "Customers"),
    RuleSpec("subscription.canceled", "remove", "VIP", "103"),
    RuleSpec("subscription.recovered", "remove", "Churned"),
    RuleSpec("subscription.restarted", "remove", "Churned"),
    RuleSpec("subscription.charged", "add", "Customers"),
    RuleSpec("product.purchased", "add", "Doomed", "102"),
)


@dataclass
class Planned:
    """One emit the storefront makes; ``repeat`` re-sends an earlier event (same id)."""

    marketplace_id: str
    event_id: str
    type: str
    customer: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)
    via_webhook: bool = False
    repeat: bool = False
    invalid_email: bool = False

    @property
    def email_key(self) -> str:
        return self.customer["email"].strip().lower()

    def webhook_body(self) -> dict:
        return {
            "id": self.event_id,
            "type": self.type,
            "marketplace_id": self.marketplace_id,
            "customer": self.customer,
            **self.fields,
        }


def _fields(rng: random.Random, event_type: str, customer_no: int) -> dict[str, str]:
    product = rng.choice(PRODUCTS)
    if event_type == "product.purchased":
        kind = rng.choice(("primary", "upsell", "order_bump", "payment_option"))
        return {"product_id": product, "purchase_type": kind}
    if event_type.startswith("product."):
        return {"product_id": product}
    if event_type == "prospect.created":
        return {"product_id": product, "prospect_id": f"p{customer_no}"}
    return {"product_id": product, "subscription_id": f"s{customer_no}-{product}"}


def plan(n_events: int, seed: int) -> list[Planned]:
    """``n_events`` distinct events plus about 4 % repeats of earlier ones, in emit order.

    Customers are few enough that most (customer, list) pairs see several actions.
    """
    rng = random.Random(seed)
    customers = max(12, n_events // 15)
    types, weights = zip(*TYPE_WEIGHTS.items(), strict=True)
    events: list[Planned] = []
    for n in range(n_events):
        marketplace = rng.choice(MARKETPLACES)
        number = int(rng.triangular(0, customers, 0))
        event_type = rng.choices(types, weights)[0]
        email = f"{marketplace}-c{number}@example.com"
        if rng.random() < 0.1:
            email = email.capitalize().replace("example", "Example")
        invalid = rng.random() < 0.03
        if invalid:
            email = rng.choice(INVALID_EMAILS).format(n=n)
            event_type = "product.purchased"
        customer = {"email": email}
        if rng.random() < 0.3:
            customer["first_name"] = rng.choice(NAMES)
        events.append(
            Planned(
                marketplace,
                f"{marketplace}-e{n}",
                event_type,
                customer,
                _fields(rng, event_type, number),
                via_webhook=rng.random() < 0.15,
                invalid_email=invalid,
            )
        )
    for _ in range(max(2, n_events // 25)):
        # A storefront retrying a send it is unsure about: same id, same body, later.
        position = rng.randrange(1, len(events))
        original = rng.choice(events[:position])
        repeat = Planned(**{**original.__dict__, "repeat": True})
        repeat.via_webhook = rng.random() < 0.5
        events.insert(position + rng.randrange(0, 10), repeat)
    return events


def fold(status: str | None, action: str) -> str | None:
    """iContact's status of one subscription after one action (None: no subscription)."""
    if action == "add":
        return "normal"
    return None if status is None else "unsubscribed"


def expected_state(
    emitted: Iterable[Planned],
) -> tuple[dict[tuple[str, str, str], str], Counter[tuple[str, str, str]]]:
    """What the rules call for, applying each event's actions once, in emit order.

    Invalid emails change nothing (they must fail without calling iContact).

    Returns:
        ``{(marketplace, list name, email): status}`` at the end, without the deleted list
        (what it held went with it); and how many times each subscription changes status on
        the way. On the deleted list that count is a ceiling: only the actions applied before
        the deletion happen, and a prefix of the actions never changes a status more often.
    """
    state: dict[tuple[str, str, str], str | None] = {}
    changes: Counter[tuple[str, str, str]] = Counter()
    for event in emitted:
        if event.invalid_email:
            continue
        for rule in RULES:
            if not rule.fires_for(event):
                continue
            key = (event.marketplace_id, rule.list_name, event.email_key)
            before = state.get(key)
            state[key] = fold(before, rule.action)
            changes[key] += state[key] != before
    final = {
        key: status
        for key, status in state.items()
        if status is not None and key[:2] != DELETED_LIST
    }
    return final, changes
