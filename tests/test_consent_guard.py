"""The consent guard without HTTP (issue 16): the iContact batch code and the engine's memory of
its own removals, against the simulator's app called in-process, and a property test over
random histories.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from addon.engine.consent import mark_engine_removals, remember_removals
from addon.providers.base import Action, Outcome
from addon.providers.icontact import consent
from addon.providers.icontact.batch import apply_actions
from addon.providers.icontact.client import IContactClient
from addon.sandbox import (
    SandboxState,
    create_sandbox_app,
    person_unsubscribes,
    set_contact_status,
)
from addon.store.models import Base

APP_ID, USERNAME, PASSWORD = "app", "shop@example.com", "secret"
LISTS = ("Buyers", "VIP")
PEOPLE = ("ann@example.com", "bob@example.com", "cy@example.com")


class InProcess:
    """A connection pool that hands each call to the simulator's app, in this thread."""

    def __init__(self, app):
        self.client = app.test_client()
        self.calls: list[tuple[str, str]] = []

    def request(self, method, url, body=None, headers=None, **_):
        parts = urlsplit(url)
        self.calls.append((method, parts.path))
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        answer = self.client.open(path, method=method, data=body, headers=headers)
        return SimpleNamespace(
            status=answer.status_code, data=answer.get_data(), headers=answer.headers
        )


class Shop:
    """One account on a fresh simulator, the engine's contact cache and consent memory."""

    def __init__(self):
        self.state = SandboxState()
        self.state.register(USERNAME, APP_ID, PASSWORD, lists=LISTS)
        self.http = InProcess(create_sandbox_app(self.state))
        self.client = IContactClient(
            "http://sandbox.test/icp", APP_ID, USERNAME, PASSWORD, http=self.http
        )
        self.lists = {item["name"]: item["listId"] for item in self.state.lists(USERNAME)}
        self.known: dict[str, str] = {}
        db = create_engine("sqlite://")
        Base.metadata.create_all(db)
        now = dt.datetime(2026, 12, 4, 12, 0)
        self.ctx = SimpleNamespace(session=Session(db), clock=SimpleNamespace(now=lambda: now))
        self.keys = 0

    def apply(self, *steps: tuple[str, str, str]) -> dict:
        """Apply ``(action, email, list name)`` steps as one batch; their outcomes by step."""
        actions, deliveries = [], {}
        for action, email, name in steps:
            self.keys += 1
            actions.append(Action(self.keys, action, {"email": email}, self.lists[name], name))
            deliveries[self.keys] = SimpleNamespace(
                list_id=self.lists[name],
                email_key=email,
                action=action,
                rule_id=1,
                event_id=f"ev-{self.keys}",
            )
        mark_engine_removals(self.ctx, 1, actions)
        result = apply_actions(self.client, actions, self.known, lookup_threads=1)
        remember_removals(self.ctx, 1, deliveries, result)
        self.ctx.session.commit()
        self.known.update(result.learned)
        for email in result.forgotten:
            self.known.pop(email, None)
        return {step: result.outcomes[key] for step, key in zip(steps, deliveries, strict=True)}

    def status(self, email: str, name: str) -> str | None:
        return self.state.subscribers(self.lists[name]).get(email)

    def person_unsubscribes(self, email: str, name: str) -> None:
        person_unsubscribes(self.state, self.lists[name], email=email)


@pytest.fixture
def shop():
    return Shop()


def test_a_person_who_left_the_list_is_skipped_with_the_reason(shop):
    shop.apply(("add", "ann@example.com", "Buyers"))
    shop.person_unsubscribes("ann@example.com", "Buyers")
    [outcome] = shop.apply(("add", "ann@example.com", "Buyers")).values()
    assert isinstance(outcome, Outcome) and outcome.status == "skipped"
    assert "unsubscribed from Buyers in iContact" in outcome.message
    assert outcome.message.endswith("not added again")
    assert shop.status("ann@example.com", "Buyers") == "unsubscribed"


def test_the_engines_own_removal_is_undone_by_a_later_add(shop):
    shop.apply(("add", "ann@example.com", "Buyers"))
    shop.apply(("remove", "ann@example.com", "Buyers"))
    [outcome] = shop.apply(("add", "ann@example.com", "Buyers")).values()
    assert outcome.status == "success"
    assert shop.status("ann@example.com", "Buyers") == "normal"


def test_leaving_one_list_keeps_the_person_on_the_others(shop):
    shop.apply(("add", "ann@example.com", "Buyers"), ("add", "ann@example.com", "VIP"))
    shop.person_unsubscribes("ann@example.com", "Buyers")
    outcomes = shop.apply(("add", "ann@example.com", "Buyers"), ("add", "ann@example.com", "VIP"))
    assert [o.status for o in outcomes.values()] == ["skipped", "success"]


@pytest.mark.parametrize("marked", ["donotcontact", "bounced"])
def test_a_contact_iContact_will_not_mail_is_skipped_even_when_cached(shop, marked):
    shop.apply(("add", "ann@example.com", "Buyers"))
    set_contact_status(shop.state, marked, email="ann@example.com")
    [outcome] = shop.apply(("add", "ann@example.com", "VIP")).values()
    assert outcome.status == "skipped" and outcome.detail["consent"] == marked
    assert shop.status("ann@example.com", "VIP") is None


def reads(shop) -> list[tuple[str, str]]:
    return [c for c in shop.http.calls if c[0] == "GET" and c[1].endswith("/subscriptions")]


def test_one_read_of_unsubscribes_serves_a_batch_of_returning_customers(shop):
    shop.apply(*(("add", email, name) for email in PEOPLE for name in LISTS))
    shop.http.calls.clear()
    shop.apply(*(("add", email, name) for email in PEOPLE for name in LISTS))
    assert len(reads(shop)) == 1
    assert len(shop.http.calls) == 2  # and one subscribe call for all six


def test_where_the_account_has_more_unsubscribes_than_its_lists_have_pages_each_list_is_read(
    shop, monkeypatch
):
    monkeypatch.setattr(consent, "PAGE", 1)
    shop.apply(*(("add", email, name) for email in PEOPLE for name in LISTS))
    for email in PEOPLE:
        shop.person_unsubscribes(email, "Buyers")
    shop.http.calls.clear()
    outcomes = shop.apply(("add", "ann@example.com", "Buyers"), ("add", "bob@example.com", "VIP"))
    assert [o.status for o in outcomes.values()] == ["skipped", "success"]
    # The account's first page counts 3 unsubscribes, in pages of 1: more pages than the
    # batch has lists. Then Buyers' 3 pages and VIP's one.
    assert len(reads(shop)) == 1 + 3 + 1


# -- the property ----------------------------------------------------------------------------

step = st.tuples(
    st.sampled_from(["purchase", "refund", "unsubscribes", "donotcontact", "bounced"]),
    st.sampled_from(PEOPLE),
    st.sampled_from(LISTS),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(step, min_size=1, max_size=4), min_size=1, max_size=10))
def test_no_opted_out_person_is_ever_subscribed_and_every_engine_removal_can_be_undone(history):
    """Purchases add, refunds remove (the engine's own removals), people leave lists and get
    marked: whatever the order and batching, the engine never subscribes anyone who left a list
    or whom iContact blocks, and a purchase puts back everyone it removed itself."""
    shop = Shop()
    left: set[tuple[str, str]] = set()
    blocked: set[str] = set()
    for batch in history:
        calls = []
        for kind, email, name in batch:
            if kind == "unsubscribes" and shop.status(email, name) in ("normal", "pending"):
                shop.person_unsubscribes(email, name)
                left.add((email, name))
            elif kind in ("donotcontact", "bounced") and any(
                shop.status(email, n) is not None for n in LISTS
            ):
                set_contact_status(shop.state, kind, email=email)
                blocked.add(email)
            elif kind in ("purchase", "refund"):
                calls.append(("add" if kind == "purchase" else "remove", email, name))
        # One call per customer and list in a batch, as the engine's claims keep them apart.
        calls = list({(e, n): (a, e, n) for a, e, n in calls}.values())
        before = {(e, n): shop.status(e, n) for _, e, n in calls}
        shop.apply(*calls)
        for action, email, name in calls:
            now = shop.status(email, name)
            if action == "remove":
                assert now in (None, "unsubscribed")
            elif email in blocked:
                assert now == before[(email, name)] or now in (None, "unsubscribed")
            elif (email, name) in left:
                assert now == "unsubscribed"
            else:
                assert now == "normal"
    assert shop.state.consent.as_dict()["overrides"] == []
