"""Hypothesis fuzzing of every form the merchant screens accept: whatever is posted, the
answer is a 2xx, 3xx or 4xx, never a 5xx. Routes come from ``app.url_map``, so a form added
later is fuzzed too."""

from __future__ import annotations

import os

import pytest
from flask import url_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addon.web.api import is_public_endpoint
from tests import test_views_support as support
from tests.test_security_routes import PLAIN_VALUES, objects_of

merchant = support.merchant

FIELDS = [
    "label",
    "username",
    "password",
    "provider",
    "trigger",
    "integration_id",
    "action",
    "list_id",
    "list_name",
    "create_list",
    "q",
    "status",
    "date_from",
    "date_to",
    "page",
    "confirm",
]
TEXT = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["", " ", "0", "-1", "999999999999", "add", "remove", "product.purchased"]),
    st.just("<script>alert(1)</script>"),
    st.just("x" * 5000),
)
FORM = st.dictionaries(st.sampled_from(FIELDS), TEXT, max_size=8)


def form_routes(app):
    return sorted(
        (rule.endpoint, sorted(rule.arguments))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("addon.")
        and not is_public_endpoint(rule.endpoint)
        and "POST" in (rule.methods or ())
    )


@pytest.fixture
def owned(engine, icontact, run_jobs):
    return objects_of(engine, "acme", "101", run_jobs)


@settings(
    max_examples=150,
    deadline=None,
    # The same examples on every run, so CI is repeatable; set HYPOTHESIS_RANDOM=1 to explore.
    derandomize=not os.environ.get("HYPOTHESIS_RANDOM"),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_form_answers_a_4xx_never_a_5xx(app, merchant, owned, data):
    routes = form_routes(app)
    assert len(routes) >= 8
    endpoint, arguments = data.draw(st.sampled_from(routes), label="route")
    values = {}
    for name in arguments:
        known = owned.get(name, PLAIN_VALUES.get(name, "1"))
        values[name] = data.draw(
            st.one_of(st.just(known), st.sampled_from(["0", "abc", "9999"])), label=name
        )
    form = data.draw(FORM, label="form")
    htmx = data.draw(st.booleans(), label="htmx")
    try:
        url = url_for(endpoint, **values)
    except Exception:  # an argument the converter refuses: no such URL to post to
        return
    headers = {"X-CSRFToken": merchant.token}
    if htmx:
        headers["HX-Request"] = "true"
    response = merchant.client.post(url, data=form, headers=headers)
    assert response.status_code < 500, (endpoint, values, form, response.get_data()[:300])
