"""Every add-on route, read from ``app.url_map``: so a route added later is covered too.

- Called with another marketplace's object ids, every route answers 404.
- Every state-changing route refuses a request without a CSRF token (400).
"""

from __future__ import annotations

import pytest
from flask import url_for
from sqlalchemy import select

from addon.store.models import Delivery
from addon.web.api import is_public_endpoint
from tests import test_views_support as support
from tests.conftest import PASSWORD, USERNAME

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Arguments that name no object: any valid value will do.
PLAIN_VALUES = {"step": "list", "provider": "icontact"}
# Arguments that name an object of a marketplace, by marketplace.
ID_ARGUMENTS = {"integration_id", "rule_id", "product_id", "entry_id"}


def addon_rules(app):
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("addon.") and not is_public_endpoint(rule.endpoint)
    ]
    assert len(rules) > 10
    return rules


def objects_of(engine, marketplace_id: str, product_id: str, run_jobs) -> dict:
    """One object of each kind for the marketplace: integration, rule, product, log entry."""
    integration = engine.connect(
        marketplace_id, label="Main iContact", username=USERNAME, password=PASSWORD
    )
    rule = engine.add_rule(
        marketplace_id,
        trigger="product.purchased",
        integration_id=integration.id,
        action="add",
        list_name="Customers",
        product_id=product_id,
    )
    engine.emit(
        "product.purchased",
        marketplace_id=marketplace_id,
        customer={"email": f"buyer@{marketplace_id}.example"},
        product_id=product_id,
        purchase_type="primary",
    )
    run_jobs()
    entry = engine.db.session.scalar(
        select(Delivery).where(Delivery.marketplace_id == marketplace_id)
    )
    return {
        "integration_id": integration.id,
        "rule_id": rule.id,
        "product_id": product_id,
        "entry_id": entry.id,
    }


def url(rule, ids: dict) -> str:
    unknown = rule.arguments - ID_ARGUMENTS - set(PLAIN_VALUES)
    assert not unknown, f"{rule.rule}: add a value for {unknown} to this test"
    values = {name: ids[name] for name in rule.arguments & ID_ARGUMENTS}
    values |= {name: PLAIN_VALUES[name] for name in rule.arguments & set(PLAIN_VALUES)}
    return url_for(rule.endpoint, **values)


@pytest.fixture
def bolt_ids(engine, icontact, run_jobs):
    return objects_of(engine, "bolt", "201", run_jobs)


@pytest.fixture
def acme_ids(engine, icontact, run_jobs):
    return objects_of(engine, "acme", "101", run_jobs)


def test_every_route_answers_404_for_another_marketplaces_objects(app, client, bolt_ids, acme_ids):
    acme = support.Merchant(client, "acme")
    checked = []
    for rule in addon_rules(app):
        if not rule.arguments & ID_ARGUMENTS:
            continue
        target = url(rule, bolt_ids)
        for method in sorted(rule.methods & {"GET", "POST"}):
            headers = {"X-CSRFToken": acme.token}
            response = client.open(target, method=method, headers=headers)
            assert response.status_code == 404, f"{method} {target}: {response.status_code}"
            checked.append(rule.endpoint)
    assert {"addon.edit_integration", "addon.edit_rule", "addon.log_entry"} <= set(checked)


def test_every_state_changing_route_needs_the_csrf_token(app, client, acme_ids):
    support.Merchant(client, "acme")
    checked = []
    for rule in addon_rules(app):
        for method in sorted(rule.methods & UNSAFE):
            target = url(rule, acme_ids)
            for headers in ({}, {"X-CSRFToken": "forged"}, {"HX-Request": "true"}):
                response = client.open(target, method=method, headers=headers)
                assert response.status_code == 400, f"{method} {target} {headers}"
            checked.append(rule.endpoint)
    assert {"addon.configure_integration", "addon.retry_failed", "addon.delete_rule"} <= set(
        checked
    )


def test_the_webhook_is_exempt_from_the_merchant_guard_and_csrf(client, engine):
    response = client.post(url_for("addon.webhook"), data=b"{}")
    assert response.status_code == 401  # refused by its signature check, not by CSRF
    assert "signature" in response.get_json()["error"].lower()
