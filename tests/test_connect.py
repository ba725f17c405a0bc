"""Connecting an iContact integration: verified against the API before anything is saved."""

import pytest
from sqlalchemy import select

from addon import IntegrationError
from addon.store.models import Integration
from tests.conftest import PASSWORD, USERNAME, configure


def test_connect_verifies_and_fetches_lists(engine, icontact):
    integration = engine.connect(
        "acme", label="Main iContact", username=USERNAME, password=PASSWORD
    )
    assert integration.id and integration.label == "Main iContact"
    assert sorted(item.name for item in integration.lists) == [
        "Abandoned Carts",
        "Customers",
        "Refunds",
    ]
    assert integration.account_id.isdigit()
    stored = engine.db.session.get(Integration, integration.id)
    assert stored.client_folder_id.isdigit() and integration.lists_refreshed_at is not None


def test_password_is_encrypted_at_rest(engine, integration):
    stored = engine.db.session.scalar(select(Integration.secret))
    assert PASSWORD not in stored
    assert engine.state().vault.decrypt(stored) == PASSWORD


def test_wrong_password_is_refused_and_nothing_saved(engine, icontact):
    with pytest.raises(IntegrationError, match="did not accept") as info:
        engine.connect("acme", label="Main", username=USERNAME, password="wrong-password")
    assert "wrong-password" not in str(info.value)
    assert engine.db.session.scalar(select(Integration)) is None


def test_unknown_username_is_refused(engine, icontact):
    with pytest.raises(IntegrationError, match="did not accept"):
        engine.connect("acme", label="Main", username="nobody@example.com", password=PASSWORD)


def test_label_must_be_unique_in_the_marketplace(engine, integration):
    with pytest.raises(IntegrationError, match="already exists"):
        engine.connect("acme", label="Main iContact", username=USERNAME, password=PASSWORD)
    # Another marketplace may use the same label.
    other = engine.connect("bolt", label="Main iContact", username=USERNAME, password=PASSWORD)
    assert other.marketplace_id == "bolt"


def test_missing_label_is_refused(engine, icontact):
    with pytest.raises(IntegrationError, match="label"):
        engine.connect("acme", label="  ", username=USERNAME, password=PASSWORD)


def test_unreachable_icontact_is_explained(app, engine, icontact):
    configure(app, ADDON_ICONTACT_API_URL="http://127.0.0.1:9/icp")
    with pytest.raises(IntegrationError, match="Could not reach"):
        engine.connect("acme", label="Main", username=USERNAME, password=PASSWORD)
    assert engine.db.session.scalar(select(Integration)) is None
