"""Counting what went wrong: the database and the simulator against the rules.

``lost``: an emitted event that was not stored or never expanded, an expected (event, rule)
delivery with no row, or one that did not end as it should (still pending, or failed for
anything but an invalid email or the deleted list). ``duplicated``: a second row for one event
or one (event, rule), a success for a rule that should not have fired, or more subscription
changes in iContact for a (list, customer) than successful deliveries explain.
A (list, customer) may change status no more often than applying its actions once each, in
emit order, changes it.
``wrong_state``: a (list, customer) whose status in iContact differs from what the rules say,
or an invalid email that reached iContact.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from addon.store.models import Delivery, Event
from tests.faults.stack import Simulator
from tests.faults.workload import DELETED_LIST, Planned, RuleSpec, expected_state

FINE = ("success", "skipped")


@dataclass
class Figures:
    faults: int
    events: int
    lost: int = 0
    duplicated: int = 0
    wrong_state: int = 0
    expected_failures: int = 0
    samples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def line(self) -> str:
        return (
            f"faults={self.faults} events={self.events} lost={self.lost} "
            f"duplicated={self.duplicated} wrong_state={self.wrong_state}"
        )

    def note(self, kind: str, text: str) -> None:
        if len(self.samples[kind]) < 8:
            self.samples[kind].append(text)

    def explain(self) -> str:
        return "\n".join(f"{kind}: {texts}" for kind, texts in self.samples.items())


@dataclass
class Setup:
    """What the suite created: rules by id, iContact accounts and list ids by marketplace."""

    rules: dict[int, tuple[str, RuleSpec]]
    usernames: dict[str, str]
    list_ids: dict[tuple[str, str], str]


def audit(db, sim: Simulator, emitted: list[Planned], setup: Setup, figures: Figures) -> None:
    """Fill ``figures`` from the database session ``db`` and the simulator."""
    events = _check_events(db, emitted, figures)
    _check_deliveries(db, emitted, events, setup, figures)
    expected, expected_changes = expected_state(emitted)
    _check_changes(sim, setup, expected_changes, figures)
    _check_state(sim, expected, emitted, setup, figures)


def _check_events(db, emitted: list[Planned], figures: Figures) -> dict[tuple[str, str], Event]:
    rows = db.scalars(select(Event)).all()
    by_key: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for row in rows:
        by_key[(row.marketplace_id, row.event_id)].append(row)
    for key, copies in by_key.items():
        if len(copies) > 1:
            figures.duplicated += len(copies) - 1
            figures.note("event stored twice", str(key))
    for event in emitted:
        copies = by_key.get((event.marketplace_id, event.event_id))
        if not copies:
            figures.lost += 1
            figures.note("event not stored", event.event_id)
        elif copies[0].expanded_at is None:
            figures.lost += 1
            figures.note("event never expanded", event.event_id)
    return {key: copies[0] for key, copies in by_key.items()}


def _acceptable(delivery: Delivery, event: Planned, deleted: bool) -> bool:
    if event.invalid_email:
        calls = (delivery.detail or {}).get("calls") if isinstance(delivery.detail, dict) else None
        return (
            delivery.status == "failed"
            and "invalid email address" in delivery.message
            and not calls
        )
    if delivery.status in FINE:
        return True
    return deleted and delivery.status == "failed" and "was not found" in delivery.message


def _check_deliveries(
    db, emitted: list[Planned], events: dict, setup: Setup, figures: Figures
) -> None:
    """Check each expected (event, rule) row, and look for rows no rule called for."""
    rows: dict[tuple[int, int | None], list[Delivery]] = defaultdict(list)
    for delivery in db.scalars(select(Delivery)).all():
        rows[(delivery.event_pk, delivery.rule_id)].append(delivery)
    for key, copies in rows.items():
        if len(copies) > 1:
            figures.duplicated += len(copies) - 1
            figures.note("two rows for one (event, rule)", str(key))
    expected_keys = set()
    for event in emitted:
        stored = events.get((event.marketplace_id, event.event_id))
        if stored is None or stored.expanded_at is None:
            continue  # already counted as lost
        for rule_id, (marketplace, spec) in setup.rules.items():
            if marketplace != event.marketplace_id or not spec.fires_for(event):
                continue
            expected_keys.add((stored.id, rule_id))
            copies = rows.get((stored.id, rule_id))
            if not copies:
                figures.lost += 1
                figures.note("delivery row missing", f"{event.event_id} rule {rule_id}")
                continue
            delivery = copies[0]
            deleted = (marketplace, spec.list_name) == DELETED_LIST
            if not _acceptable(delivery, event, deleted):
                figures.lost += 1
                figures.note(
                    "delivery did not end right",
                    f"{event.event_id} {spec.action} {spec.list_name}: "
                    f"{delivery.status} {delivery.message[:160]!r}",
                )
            elif delivery.status == "failed":
                figures.expected_failures += 1
    for key, copies in rows.items():
        if key not in expected_keys:
            figures.note("delivery no rule called for", f"{key} {copies[0].status}")
            figures.duplicated += sum(1 for d in copies if d.status == "success")


def _check_changes(sim: Simulator, setup: Setup, expected: Counter, figures: Figures) -> None:
    """More status changes in iContact than the actions explain: something applied twice."""
    marketplace_of = {username: mp for mp, username in setup.usernames.items()}
    list_name = {list_id: name for (_, name), list_id in setup.list_ids.items()}
    changes: Counter = Counter()
    with sim.state.lock:
        for change in sim.recorder.changes:
            account = sim.state.accounts[change.username]
            email = account.contacts[change.contact_id]["email"].lower()
            changes[(marketplace_of[change.username], list_name[change.list_id], email)] += 1
    for key, count in changes.items():
        allowed = expected[key]
        if count > allowed:
            figures.duplicated += count - allowed
            figures.note("more changes than the actions explain", f"{key}: {count} > {allowed}")


def _check_state(
    sim: Simulator, expected: dict, emitted: list[Planned], setup: Setup, figures: Figures
) -> None:
    actual: dict[tuple[str, str, str], str] = {}
    for (marketplace, list_name), list_id in setup.list_ids.items():
        if (marketplace, list_name) == DELETED_LIST:
            if sim.state.subscribers(list_id):
                figures.wrong_state += 1
                figures.note("deleted list holds subscribers", list_name)
            continue
        for email, status in sim.state.subscribers(list_id).items():
            actual[(marketplace, list_name, email.lower())] = status
    for key in sorted(set(expected) | set(actual)):
        if expected.get(key) != actual.get(key):
            figures.wrong_state += 1
            figures.note(
                "wrong state", f"{key}: expected {expected.get(key)}, iContact {actual.get(key)}"
            )
    invalid = {event.email_key for event in emitted if event.invalid_email}
    for username in setup.usernames.values():
        for contact in sim.state.contacts(username):
            if (contact["email"] or "").lower() in invalid:
                figures.wrong_state += 1
                figures.note("invalid email reached iContact", contact["email"])


def evidence(db, sim: Simulator) -> str:
    """Signs that the faults bit: retried deliveries, refused calls, calls made."""
    retried = db.execute(
        select(func.count()).select_from(Delivery).where(Delivery.attempts > 1)
    ).scalar_one()
    stats = sim.state.stats
    injected = sum(traffic.injected_errors for traffic in stats.accounts.values())
    return (
        f"{retried} deliveries retried, {stats.total_calls} iContact calls "
        f"({injected} injected 5xx, {stats.throttled} throttled)"
    )
