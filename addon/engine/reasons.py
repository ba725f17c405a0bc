"""Why: the plain words for what happened to an event, for a merchant who asks "why wasn't
Jane added?" and has never heard of queues or workers.

Two questions get answered here. For a log entry (one rule applied to one event): why it is
waiting, on hold, skipped or failed (:func:`entry_reason`). For a stored event that no rule
acted on: which of the usual reasons it was — no rule for its trigger, a rule for another
product, a rule made later, a rule or integration deleted, or its entries cleared from the log
(:func:`nothing_happened`). The words are worked out when they are read, from the rules as
they are now and what the log still holds, so no write on the path of an event pays for them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..store.models import FAILED, PENDING, SKIPPED, Delivery, Event, Rule
from .triggers import PROSPECT, title, triggers_for

#: What the engine writes as a skip's message, and what that means to the merchant.
SKIPS = {
    "skipped: purchased before the abandonment delay": (
        "Not sent: the customer bought before the cart-abandonment wait was over, so the "
        "abandoned-cart rule no longer applies to them."
    ),
    "skipped: a later event already changed this customer on this list": (
        "Not sent: a later event already changed this customer on this list; sending this "
        "older one now would undo it."
    ),
    "skipped: the rule was deleted before this ran": (
        "Not sent: its rule was deleted before it ran."
    ),
    "skipped: the integration was deleted before this ran": (
        "Not sent: its integration was deleted before it ran."
    ),
    "skipped: the contact is not on this list": (
        "Nothing to remove: the customer is not on this list."
    ),
    "skipped: the contact was already unsubscribed from this list": (
        "Nothing to remove: the customer had already left this list."
    ),
}


def entry_reason(entry: Delivery, provider_name: str | None, now: dt.datetime) -> str | None:
    """Why a log entry is waiting, held, skipped or failed, in a sentence; None when it
    simply worked (its own message says what was done).

    Args:
        provider_name: the display name of the entry's provider; None when its
            integration has been deleted since.
        now: the current naive UTC time (a wait is said as "at 14:05", or "within a minute").
    """
    message = entry.message or ""
    gone = (
        f" Its integration, “{entry.integration_label}”, has been deleted since."
        if provider_name is None
        else ""
    )
    provider_name = provider_name or "The provider"
    if entry.status == PENDING:
        return _waiting(entry, message, provider_name, now) + gone
    if entry.status == SKIPPED:
        return _skipped(message, provider_name) + gone
    if entry.status == FAILED:
        return f"Failed: {_sentence(message)}{gone}" if message else f"Failed.{gone}"
    return gone.strip() or None


def _waiting(entry: Delivery, message: str, provider_name: str, now: dt.datetime) -> str:
    when = _when(entry.next_attempt_at, now)
    if message.startswith("held:"):
        return (
            f"On hold: {provider_name} refused this integration's password. Edit the "
            "integration and enter the current application password; the held work then "
            "goes out on its own."
        )
    if entry.trigger == PROSPECT and entry.attempts == 0:
        return (
            "Waiting: an abandoned cart is only acted on after a wait, in case the customer "
            f"buys after all. It goes out {when} unless they buy first."
        )
    if entry.attempts:
        return (
            f"Waiting to try again: {provider_name} could not be reached or did not answer "
            f"properly last time. The next try is {when}, automatically."
        )
    return f"Waiting its turn: it goes out {when}."


def _skipped(message: str, provider_name: str) -> str:
    if message in SKIPS:
        return SKIPS[message]
    if message.startswith("skipped: no ") and "contact has this email" in message:
        return f"Nothing to remove: {provider_name} has no contact with this email."
    return "Not sent: " + _sentence(message.removeprefix("skipped:").strip() or "no reason given")


def _when(at: dt.datetime | None, now: dt.datetime) -> str:
    if at is None or at <= now + dt.timedelta(seconds=60):
        return "within a minute"
    if at.date() == now.date():
        return f"at {at:%H:%M} UTC"
    return f"on {at:%Y-%m-%d} at {at:%H:%M} UTC"


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


# -- an event no rule acted on -----------------------------------------------------------------


@dataclass(frozen=True)
class GoneRule:
    """A rule that is no more, as the log remembers it from its entries."""

    trigger: str
    product_id: str | None  # None: it was a global rule
    integration_label: str
    #: Its integration was deleted (else the rule alone was).
    integration_deleted: bool


@dataclass(frozen=True)
class Background:
    """What explaining a page of events needs, read once per page."""

    #: The marketplace's rules as they are now.
    rules: list[Rule]
    #: The time of the oldest entry a full log still holds (None: nothing was cleared yet);
    #: an event expanded before it may have had entries that were cleared.
    kept_since: dt.datetime | None
    #: How many entries the log keeps (``ADDON_LOG_LIMIT``).
    log_limit: int
    #: Rules the log saw act that have since been deleted.
    gone: list[GoneRule]
    now: dt.datetime


def event_title(event: Event, product_name: Callable[[str | None], str | None]) -> str:
    """ "Product Refunded for Sampler": the event's trigger and its product as the merchant
    names it."""
    if not event.product_id:
        return title(event.type)
    name = product_name(event.product_id) or f"product {event.product_id}"
    return f"{title(event.type)} for {name}"


def nothing_happened(
    event: Event, background: Background, product_name: Callable[[str | None], str | None]
) -> str:
    """Why no rule acted on ``event`` (it has no entries in the log), in a sentence."""
    head = event_title(event, product_name)
    if event.expanded_at is None:
        if background.now - event.created_at > dt.timedelta(minutes=10):
            return (
                f"{head}: received, but not looked at yet. Nothing is lost, but the store's "
                "background processing seems to be stopped; ask your store's support to "
                "check that it is running."
            )
        return f"{head}: just received; the rules are being checked. Refresh in a moment."
    triggers = triggers_for(event.type)
    rules = background.rules
    fits = [r for r in rules if r.trigger in triggers and r.product_id in (None, event.product_id)]
    if fits:
        return head + ": " + _rules_came_later(event, fits, background)
    for_trigger = [r for r in rules if r.trigger in triggers]
    if for_trigger:
        names = sorted(
            {product_name(r.product_id) or f"product {r.product_id}" for r in for_trigger}
        )
        return (
            f"{head}: no rule for this product; {_acting(len(for_trigger))} "
            f"on {title(event.type)} for other products ({_join(names)})."
        )
    gone = [
        g
        for g in background.gone
        if g.trigger in triggers and g.product_id in (None, event.product_id)
    ]
    if gone:
        deleted = sorted({g.integration_label for g in gone if g.integration_deleted})
        if deleted:
            return (
                f"{head}: no rule for this trigger any more; its rules went with the deleted "
                f"integration {_join([f'“{label}”' for label in deleted])}."
            )
        return f"{head}: no rule for this trigger any more; the rule for it was deleted."
    if not rules:
        return (
            f"{head}: there are no rules yet. Add one on Global Rules, or on a product's "
            "Integrations tab."
        )
    others = Counter(title(r.trigger) for r in rules).most_common(2)
    acting = "; ".join(f"{_acting(n)} on {name}" for name, n in others)
    return f"{head}: no rule for this trigger; {acting}."


def _rules_came_later(event: Event, fits: list[Rule], background: Background) -> str:
    """Rules act on it now, yet it has no entries: they came later, or its entries were
    cleared, or a rule was changed to fit it."""
    assert event.expanded_at is not None
    later = [r for r in fits if r.created_at > event.expanded_at]
    if len(later) == len(fits):
        first = min(r.created_at for r in later)
        return (
            f"no rule acted on it when it arrived. {_count(len(later), 'rule')} made since "
            f"(from {first:%Y-%m-%d %H:%M} UTC) {'acts' if len(later) == 1 else 'act'} on "
            f"events that arrive after {'it' if len(later) == 1 else 'them'}, not on earlier ones."
        )
    if background.kept_since is not None and event.expanded_at < background.kept_since:
        return (
            f"its log entries were cleared: the Logs keep the latest "
            f"{background.log_limit:,} entries, and these were older."
        )
    return "no rule acted on it when it arrived; a rule was changed since so that it would."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _acting(n: int) -> str:
    return f"{_count(n, 'rule')} {'acts' if n == 1 else 'act'}"


def _join(names: Iterable[str]) -> str:
    names = list(names)
    if len(names) > 3:
        names = [*names[:3], f"{len(names) - 3} more"]
    return ", ".join(names)


def outcome_summary(entries: list[Delivery]) -> str:
    """ "2 rules acted on it: 1 done, 1 failed." for an event with entries."""
    words = {"success": "done", FAILED: "failed", PENDING: "waiting", SKIPPED: "not sent"}
    counts = Counter(entry.status for entry in entries)
    parts = [f"{counts[status]} {word}" for status, word in words.items() if counts[status]]
    return f"{_count(len(entries), 'rule')} acted on it: {', '.join(parts)}."
