"""The provider owns its world: the engine drives any registered provider through the
Provider contract, words its messages in that provider's name, and names none itself."""

from __future__ import annotations

import pathlib

import pytest

import addon.engine
from addon import IntegrationError
from addon.providers import PROVIDERS, ProviderError, get_provider, register
from tests.conftest import purchase
from tests.fake_provider import NAME, PASSWORD, USERNAME, PostboxAccount, postbox


@pytest.fixture
def account():
    """A Postbox account, with the Postbox provider registered for the test."""
    account = PostboxAccount()
    register(postbox(account))
    yield account
    PROVIDERS.pop(NAME)


@pytest.fixture
def postbox_integration(engine, account):
    return engine.connect("acme", NAME, label="Main box", username=USERNAME, password=PASSWORD)


def test_a_registered_provider_is_found_by_name(account):
    assert get_provider(NAME).display_name == "Postbox"


def test_register_takes_only_a_provider():
    with pytest.raises(TypeError, match="Provider"):
        register("postbox")  # type: ignore[arg-type]


def test_an_unknown_provider_is_a_clear_error(engine):
    with pytest.raises(ProviderError, match="Unknown provider 'nowhere'"):
        get_provider("nowhere")
    with pytest.raises(IntegrationError, match="Unknown provider 'nowhere'"):
        engine.connect("acme", "nowhere", label="X", username=USERNAME, password=PASSWORD)


def test_connecting_fetches_the_providers_lists(postbox_integration):
    assert postbox_integration.provider == NAME
    assert sorted((item.id, item.name) for item in postbox_integration.lists) == [
        ("L1", "Buyers"),
        ("L2", "Refunds"),
    ]


def test_refused_credentials_are_worded_by_the_provider(engine, account):
    with pytest.raises(IntegrationError, match="Postbox did not recognise that key pair"):
        engine.connect("acme", NAME, label="Main box", username=USERNAME, password="wrong")
    with pytest.raises(IntegrationError, match="'Main Postbox account'"):
        engine.connect("acme", NAME, label=" ", username=USERNAME, password=PASSWORD)


def test_a_purchase_reaches_the_provider_and_its_log_entry_speaks_its_words(
    engine, account, postbox_integration, run_jobs
):
    engine.add_rule(
        "acme",
        trigger="product.purchased",
        integration_id=postbox_integration.id,
        action="add",
        list_name="Buyers",
    )
    purchase(engine, "Ann@Example.com", event_id="o-1")
    run_jobs()
    assert account.received == [("add", "L1", "ann@example.com")]
    [entry] = engine.logs("acme")
    assert entry.status == "success" and entry.list_id == "L1"
    assert entry.message == "Postbox filed ann@example.com in box L1"


def test_the_engine_paces_the_provider_at_its_own_allowance(
    engine, account, postbox_integration, run_jobs
):
    engine.add_rule(
        "acme",
        trigger="product.purchased",
        integration_id=postbox_integration.id,
        action="add",
        list_id="L1",
    )
    purchase(engine, event_id="o-1")
    run_jobs()
    buckets = [t for t in account.throttles if t is not None]
    assert buckets, "the worker's client had no throttle"
    # 600 calls a minute (Postbox's, not iContact's): a tenth of it may go at once.
    assert {bucket.capacity for bucket in buckets} == {60.0}


def test_failures_and_invalid_emails_name_the_provider(
    engine, account, postbox_integration, run_jobs
):
    engine.add_rule(
        "acme",
        trigger="product.purchased",
        integration_id=postbox_integration.id,
        action="add",
        list_id="L2",
    )
    del account.lists["L2"]
    purchase(engine, "bob@example.com", event_id="o-1")
    purchase(engine, "not-an-email", event_id="o-2")
    run_jobs()
    by_event = {entry.event_id: entry for entry in engine.logs("acme")}
    assert by_event["o-1"].status == "failed"
    assert "was not found in Postbox: no box L2" in by_event["o-1"].message
    assert by_event["o-2"].message.endswith("nothing was sent to Postbox")
    assert account.received == []


def test_the_engine_names_no_provider():
    engine_dir = pathlib.Path(addon.engine.__file__).parent
    named = [
        f"{path.name}:{number}"
        for path in sorted(engine_dir.glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "icontact" in line.lower()
    ]
    assert named == []
