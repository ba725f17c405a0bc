"""The engine's public methods hand back plain frozen records, not database rows: an
integration without its password, a rule, a log entry. (``make typecheck`` holds the facade
to ``mypy --strict``.)"""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from addon.results import ConnectedIntegration, IntegrationRule, LogEntry, MailingList
from addon.store.models import Event, Integration
from tests.conftest import PASSWORD, USERNAME, customers_rule, purchase


def every_value(record) -> list:
    """Every value inside a record, nested records and tuples included."""
    values = []
    for value in dataclasses.asdict(record).values():
        values.extend(value if isinstance(value, list | tuple) else [value])
    return values


def test_connect_hands_back_the_integration_without_its_password(engine, icontact):
    integration = engine.connect("acme", label="Main", username=USERNAME, password=PASSWORD)
    ciphertext = engine.db.session.scalar(select(Integration.secret))

    assert isinstance(integration, ConnectedIntegration)
    assert not {"secret", "password"} & {f.name for f in dataclasses.fields(integration)}
    for text in (repr(integration), str(every_value(integration))):
        assert PASSWORD not in text and ciphertext not in text
    assert (integration.label, integration.username, integration.status) == (
        "Main",
        USERNAME,
        "connected",
    )
    assert {item.name for item in integration.lists} == {"Customers", "Refunds", "Abandoned Carts"}
    assert all(isinstance(item, MailingList) and item.id.isdigit() for item in integration.lists)


def test_results_are_frozen(engine, integration, purchase_rule, run_jobs):
    purchase(engine)
    run_jobs()
    [entry] = engine.logs("acme")

    for record, name in ((integration, "label"), (purchase_rule, "list_id"), (entry, "status")):
        assert dataclasses.is_dataclass(record)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, name, "changed")


def test_results_outlive_the_session_that_read_them(engine, integration, purchase_rule, run_jobs):
    purchase(engine, event_id="o-1")
    run_jobs()
    [entry] = engine.logs("acme")
    engine.db.session.remove()  # a row would now be detached, its relationships unreadable

    assert [item.name for item in integration.lists]
    assert purchase_rule.list_name == "Customers" and purchase_rule.scope == "global"
    assert isinstance(purchase_rule, IntegrationRule)
    assert isinstance(entry, LogEntry)
    assert (entry.event_id, entry.status, entry.integration_label) == (
        "o-1",
        "success",
        "Main iContact",
    )
    assert entry.detail and entry.event_created_at <= entry.created_at <= entry.finished_at


def test_connect_and_add_rule_leave_no_transaction_open_for_emit_to_join(
    engine, icontact, run_jobs
):
    integration = engine.connect("acme", label="Main", username=USERNAME, password=PASSWORD)
    assert not engine.db.session().in_transaction()

    customers_rule(engine, integration)
    assert not engine.db.session().in_transaction()
    purchase(engine, event_id="o-1")  # stored and committed on its own
    engine.db.session.rollback()
    run_jobs()
    assert [entry.event_id for entry in engine.logs("acme")] == ["o-1"]


def test_reading_the_log_or_the_attention_count_leaves_no_transaction_for_emit_to_join(
    engine, integration, purchase_rule, run_jobs
):
    engine.logs("acme")
    assert not engine.db.session().in_transaction()
    assert engine.needing_attention("acme") == 0
    assert not engine.db.session().in_transaction()
    purchase(engine, event_id="o-1")  # stored and committed on its own
    engine.db.session.rollback()
    run_jobs()
    assert [entry.event_id for entry in engine.logs("acme")] == ["o-1"]


def test_a_read_inside_the_hosts_transaction_leaves_it_to_the_host(engine, integration):
    engine.db.session().begin()
    purchase(engine, event_id="o-1")  # joins the host's transaction
    engine.logs("acme")
    engine.needing_attention("acme")
    assert engine.db.session().in_transaction()
    engine.db.session.rollback()  # the host changes its mind: the event goes with it
    assert engine.logs("acme") == []
    assert engine.db.session.scalars(select(Event.event_id)).all() == []


def test_app_password_is_still_accepted_with_a_deprecation_warning(engine, icontact):
    with pytest.warns(DeprecationWarning, match="password="):
        integration = engine.connect("acme", label="Main", username=USERNAME, app_password=PASSWORD)
    assert integration.status == "connected"

    with pytest.raises(TypeError, match="not both"):
        engine.connect("acme", label="B", username=USERNAME, password="x", app_password="y")
