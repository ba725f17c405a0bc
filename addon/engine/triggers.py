"""The nine triggers a rule can name, and which storefront events fire them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Trigger:
    name: str
    title: str
    description: str


TRIGGERS: tuple[Trigger, ...] = (
    Trigger(
        "product.purchased",
        "Product Purchased",
        "A customer buys the product as a primary product, upsell, order bump or payment option.",
    ),
    Trigger("product.refunded", "Product Refunded", "A purchase of the product is fully refunded."),
    Trigger(
        "product.partially_refunded",
        "Product Partially Refunded",
        "Part of a purchase of the product is refunded.",
    ),
    Trigger(
        "prospect.created",
        "Prospect Created",
        "Cart abandonment: fires 2 hours after a prospect is created, unless they bought by then.",
    ),
    Trigger(
        "subscription.canceled",
        "Subscription Canceled",
        "A subscription's status turns Canceled or Delinquent.",
    ),
    Trigger(
        "subscription.charged",
        "Subscription Charged",
        "Each successful recurring charge of a subscription.",
    ),
    Trigger(
        "subscription.delinquent",
        "Subscription Delinquent",
        "A subscription fails 4 payments in a row.",
    ),
    Trigger(
        "subscription.recovered",
        "Subscription Recovered",
        "The card is updated during dunning and the charge succeeds.",
    ),
    Trigger(
        "subscription.restarted",
        "Subscription Restarted",
        "A delinquent or canceled subscription is restarted by hand.",
    ),
)

BY_NAME = {t.name: t for t in TRIGGERS}
TRIGGER_NAMES = tuple(BY_NAME)
#: Cart abandonment: its deliveries wait for a delay, and a purchase since skips them.
PROSPECT = "prospect.created"

# A delinquent subscription has also stopped paying, so Canceled rules fire on it too.
_EXTRA_TRIGGERS = {"subscription.delinquent": ("subscription.canceled",)}


def triggers_for(event_type: str) -> tuple[str, ...]:
    """Return the trigger names that an event of ``event_type`` fires."""
    return (event_type, *_EXTRA_TRIGGERS.get(event_type, ()))


#: What the log calls the work that no storefront event fired (issue 16).
OTHER_TITLES = {"reconcile": "Fix after a check"}


def title(name: str) -> str:
    """Human title of a trigger name, or the name itself when unknown."""
    trigger = BY_NAME.get(name)
    return trigger.title if trigger else OTHER_TITLES.get(name, name)


ACTIONS = {"add": "Add Subscriber to List", "remove": "Remove Subscriber from List"}
