"""Rules: a trigger, an integration, an action and a list, global or for one product."""

import pytest

from addon import IntegrationError
from tests.conftest import APP_ID, PASSWORD, USERNAME, list_id


def test_rule_by_list_id(engine, integration, icontact):
    customers = list_id(icontact, "Customers")
    rule = engine.add_rule(
        "acme",
        trigger="product.purchased",
        integration_id=integration.id,
        action="add",
        list_id=customers,
        product_id="101",
    )
    assert (rule.list_id, rule.list_name, rule.scope) == (customers, "Customers", "product")


def test_rule_by_list_name_is_case_insensitive(engine, integration, icontact):
    rule = engine.add_rule(
        "acme",
        trigger="product.refunded",
        integration_id=integration.id,
        action="remove",
        list_name="customers",
    )
    assert rule.list_id == list_id(icontact, "Customers")
    assert rule.scope == "global"


def test_a_list_created_in_icontact_later_is_found_after_one_refresh(engine, integration, icontact):
    icontact.register(USERNAME, APP_ID, PASSWORD, lists=["VIP"])
    rule = engine.add_rule(
        "acme",
        trigger="product.purchased",
        integration_id=integration.id,
        action="add",
        list_name="VIP",
    )
    assert rule.list_name == "VIP"


def test_unknown_list_name_is_refused_naming_it(engine, integration):
    with pytest.raises(IntegrationError, match="'Nope'"):
        engine.add_rule(
            "acme",
            trigger="product.purchased",
            integration_id=integration.id,
            action="add",
            list_name="Nope",
        )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"trigger": "order.completed"}, "Unknown trigger"),
        ({"action": "tag"}, "action"),
    ],
)
def test_bad_rules_are_refused(engine, integration, change, message):
    kwargs = dict(trigger="product.purchased", integration_id=integration.id, action="add")
    kwargs.update(change)
    with pytest.raises(IntegrationError, match=message):
        engine.add_rule("acme", list_name="Customers", **kwargs)


def test_another_marketplaces_integration_cannot_be_used(engine, integration):
    with pytest.raises(IntegrationError, match="Unknown integration"):
        engine.add_rule(
            "bolt",
            trigger="product.purchased",
            integration_id=integration.id,
            action="add",
            list_name="Customers",
        )
