"""Hypothesis over the URL map: every route and method of the add-on and of the demo storefront,
with odd path parameters (huge, negative, zero, other scripts' digits, very long, NUL), odd
query parameters (page, dates, status, q, integration, trigger, next), odd headers (HX-Request,
HX-Target, HX-Current-URL, the webhook's signature, Accept), as a full page and as a fragment,
signed in or not, with or without the CSRF token. The answer is never a 5xx, no redirect leaves
the site, and a refused request (4xx), like any GET, changes none of the add-on's tables.

Routes come from ``app.url_map``, so a route added later is walked too. The examples are the
same on every run (``derandomize``); set HYPOTHESIS_RANDOM=1 to explore.
"""

from __future__ import annotations

import itertools
import os
from urllib.parse import urlencode

import pytest
from flask import current_app, g
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import test_views_support as support
from tests.test_fuzz_forms import FORM
from tests.test_no_5xx import addon_tables, path_arguments, path_with, same_origin
from tests.test_security_routes import PLAIN_VALUES, objects_of

FUZZ = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 250)),
    deadline=None,
    derandomize=not os.environ.get("HYPOTHESIS_RANDOM"),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- what is thrown at the routes ----------------------------------------------------------

ODD_PATH_VALUES = [
    "0",
    "-1",
    "007",
    "2147483648",  # one past an Integer primary key on PostgreSQL
    str(2**63),  # one past SQLite's
    str(2**64),
    "9" * 400,
    "١٢",  # other scripts' digits
    "²",
    "1.5",
    "é",
    "\x00",
    "%00",
    "a b",
    "..",
    "x" * 3000,
    "<script>",
]
PATH_VALUE = st.sampled_from(ODD_PATH_VALUES) | st.text(max_size=40) | st.integers().map(str)

ODD_QUERY_VALUES = [
    "",
    " ",
    "0",
    "-1",
    "99999999999999999999999",
    "9999-12-31",
    "0001-01-01",
    "10000-01-01",
    "2024-02-30",
    "failed",
    "pending",
    "bogus",
    "product.purchased",
    "%",
    "_",
    "\\",
    "\x00",
    "é",
    "x" * 5000,
    "//evil.example",
    "/\t/evil.example",
]
QUERY_NAMES = [
    "page",
    "q",
    "status",
    "trigger",
    "integration_id",
    "date_from",
    "date_to",
    "provider",
    "action",
    "list_id",
    "list_name",
    "next",
    "show",
    "email",
    "after",
]
QUERY = st.dictionaries(
    st.sampled_from(QUERY_NAMES),
    st.sampled_from(ODD_QUERY_VALUES) | st.text(max_size=30),
    max_size=5,
)

# Header values as a server hands them over: latin-1, no line breaks.
HEADER_TEXT = st.text(
    alphabet=st.characters(max_codepoint=255, exclude_categories=("Cc",)), max_size=60
)
ODD_HEADERS = {
    "HX-Request": ["true", "false", "TRUE", "1", ""],
    "HX-Target": ["addon-log-results", "addon-screen", "addon-dialog-slot", "", "#", "x" * 3000],
    "HX-Current-URL": [
        "http://localhost/integrations/",
        "http://localhost/merchant/products/101",
        "http://[",  # urlsplit() raises on it
        "http://localhost:99999/",
        "::",
        "http://é/",
        "",
        "http://localhost/" + "x" * 3000,
    ],
    "HX-History-Restore-Request": ["true", "false"],
    "X-Addon-Signature": [
        "t=²,v1=00",
        "t=" + "9" * 400 + ",v1=00",
        "t=1,v1=é",
        "v1=",
        "t=,v1=,",
        ",,,",
    ],
    "Accept": ["application/json", "*/*", "text/html;q=0.1", "image/png", "application/json;q=x"],
}
HEADERS = {name: st.sampled_from(values) | HEADER_TEXT for name, values in ODD_HEADERS.items()}
METHODS = ["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE"]


# -- helpers -------------------------------------------------------------------------------


def send(client, method: str, path: str, query: dict, headers: dict, form: dict):
    """One request. Returns the response, or the exception that would be a 500 in production
    (TESTING propagates it)."""
    url = path + ("?" + urlencode(query) if query else "")
    data = form if method in ("POST", "PUT", "DELETE") else None
    try:
        return client.open(url, method=method, headers=headers, data=data)
    except Exception as exc:  # noqa: BLE001 - any exception is the 5xx being looked for
        return exc


def check(engine, before: dict | None, method: str, url: str, outcome) -> None:
    """Below 500, never off-site, and (with ``before``) nothing changed unless it was a write
    that succeeded."""
    assert not isinstance(outcome, Exception), f"{method} {url[:300]}: {outcome!r}"
    status = outcome.status_code
    assert status < 500, f"{method} {url[:300]}: {status} {outcome.get_data()[:300]!r}"
    if 300 <= status < 400 and outcome.location:
        assert same_origin(outcome.location), f"{method} {url[:300]} -> {outcome.location}"
    if before is not None and (status >= 400 or method in ("GET", "HEAD", "OPTIONS")):
        assert addon_tables(engine) == before, f"{method} {url[:300]} ({status}) changed the tables"


def addon_rules(app) -> list:
    prefix = app.config["ADDON_BLUEPRINT_NAME"] + "."
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith(prefix)]
    assert len(rules) > 15
    return sorted(rules, key=lambda rule: (rule.rule, rule.endpoint))


def storefront_rules(app) -> list:
    prefix = app.config["ADDON_BLUEPRINT_NAME"] + "."
    rules = [rule for rule in app.url_map.iter_rules() if not rule.endpoint.startswith(prefix)]
    assert {"login", "logout", "dashboard", "product", "fire_event"} <= {r.endpoint for r in rules}
    return sorted(rules, key=lambda rule: (rule.rule, rule.endpoint))


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def owned(engine, icontact, run_jobs):
    """One object of each kind in acme's marketplace: integration, rule, product, log entry."""
    return {name: str(value) for name, value in objects_of(engine, "acme", "101", run_jobs).items()}


class Browsers:
    """Acme's merchant, signed in (with the CSRF token a page gives), and a stranger."""

    def __init__(self, app):
        self.merchant = support.Merchant(app.test_client(), "acme")
        self.clients = {"merchant": self.merchant.client, "stranger": app.test_client()}

    @property
    def token(self) -> str:
        return self.merchant.token

    def sign_in_again(self) -> None:
        """After a request to sign in or out: acme's merchant again, with a fresh token."""
        # The test's app context (pytest-flask) is every request's, and Flask-WTF keeps the
        # token of the session just cleared in its ``g``: forget it, as a new request would.
        g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
        self.merchant = support.Merchant(self.clients["merchant"], "acme")


@pytest.fixture
def browsers(app, engine):
    return Browsers(app)


# -- the add-on ----------------------------------------------------------------------------


def test_every_route_and_method_refuses_odd_path_values_without_a_5xx(app, engine, owned, browsers):
    """A sweep, not a search: each route × its methods × each odd path value, as a page and as
    a fragment."""
    client, token = browsers.clients["merchant"], browsers.token
    before = addon_tables(engine)
    swept = 0
    for rule in addon_rules(app):
        arguments = path_arguments(rule)
        if not arguments:
            continue
        for odd in ODD_PATH_VALUES:
            for name in arguments:
                values = {n: owned.get(n, PLAIN_VALUES.get(n, "1")) for n in arguments}
                values[name] = odd
                path = path_with(rule, values)
                for method in sorted(rule.methods - {"OPTIONS"}):
                    for htmx in (False, True):
                        headers = {"X-CSRFToken": token} | ({"HX-Request": "true"} if htmx else {})
                        outcome = send(client, method, path, {}, headers, {})
                        check(engine, None, method, path, outcome)
                        assert outcome.status_code in (404, 405, 401), (method, path)
                        swept += 1
    assert swept > 500
    assert addon_tables(engine) == before, "a refused request changed the tables"


KNOWN_STOREFRONT_VALUES = {"product_id": "101", "filename": "demo.css"}


def test_every_page_takes_odd_query_values_without_a_5xx(app, engine, owned, browsers):
    """A sweep: every GET route of the add-on and the storefront with every query parameter
    set to each odd value at once, as a page, a fragment and the Logs' results fragment."""
    client, token = browsers.clients["merchant"], browsers.token
    before = addon_tables(engine)
    page, fragment = {}, {"HX-Request": "true"}
    results = {"HX-Request": "true", "HX-Target": "addon-log-results"}
    swept = 0
    for rule in addon_rules(app) + storefront_rules(app):
        if "GET" not in rule.methods:
            continue
        variants = (
            (page, fragment, results) if rule.endpoint.endswith(".logs") else (page, fragment)
        )
        known = {**KNOWN_STOREFRONT_VALUES, **PLAIN_VALUES, **owned}
        path = path_with(rule, {name: known.get(name, "1") for name in path_arguments(rule)})
        for odd in ODD_QUERY_VALUES:
            query = dict.fromkeys(QUERY_NAMES, odd)
            for headers in variants:
                outcome = send(client, "GET", path, query, {"X-CSRFToken": token, **headers}, {})
                check(engine, None, "GET", f"{path}?{urlencode(query)}", outcome)
                swept += 1
    assert swept > 1000
    assert addon_tables(engine) == before, "a GET changed the tables"


def test_every_page_takes_odd_headers_without_a_5xx(app, engine, owned, browsers):
    """A sweep: every route of the add-on and the storefront with each odd value of each
    header, as a page and as a fragment (htmx's headers count only with ``HX-Request``)."""
    client = browsers.clients["merchant"]
    before = addon_tables(engine)
    swept = 0
    for rule in addon_rules(app) + storefront_rules(app):
        known = {**KNOWN_STOREFRONT_VALUES, **PLAIN_VALUES, **owned}
        path = path_with(rule, {name: known.get(name, "1") for name in path_arguments(rule)})
        for name, values in ODD_HEADERS.items():
            for value, fragment in itertools.product(values, (False, True)):
                headers = {"X-CSRFToken": "forged", name: value}
                if fragment and name != "HX-Request":
                    headers["HX-Request"] = "true"
                # Writes with a forged token: refused, so the tables must stay as they were.
                for method in sorted(rule.methods & {"GET", "POST"}):
                    outcome = send(client, method, path, {}, headers, {})
                    check(engine, None, method, f"{path} {headers}", outcome)
                    swept += 1
    assert swept > 500
    assert addon_tables(engine) == before, "a refused request changed the tables"


@FUZZ
@given(data=st.data())
def test_any_request_to_the_addon_answers_below_500_and_a_refusal_changes_nothing(
    app, engine, owned, browsers, data
):
    by_name, token = browsers.clients, browsers.token
    rule = data.draw(st.sampled_from(addon_rules(app)), label="route")
    method = data.draw(
        st.sampled_from(sorted(rule.methods)) | st.sampled_from(METHODS), label="method"
    )
    values = {}
    for name in path_arguments(rule):
        real = owned.get(name, PLAIN_VALUES.get(name, "1"))
        values[name] = data.draw(st.just(real) | PATH_VALUE, label=name)
    query = data.draw(QUERY, label="query")
    headers = {
        name: data.draw(strategy, label=name)
        for name, strategy in HEADERS.items()
        if data.draw(st.booleans(), label=f"send {name}")
    }
    csrf = data.draw(st.sampled_from(["valid", "none", "forged"]), label="csrf")
    if csrf != "none":
        headers["X-CSRFToken"] = token if csrf == "valid" else "forged"
    who = data.draw(st.sampled_from(sorted(by_name)), label="who")
    # Only a refused delete may run: a deleted object would leave the rest of the run nothing
    # to find.
    if "delete" in rule.endpoint and method == "POST" and csrf == "valid" and who == "merchant":
        values = {name: data.draw(PATH_VALUE, label=f"odd {name}") for name in values}
    form = data.draw(FORM, label="form") if method in ("POST", "PUT", "DELETE") else {}
    path = path_with(rule, values)
    before = addon_tables(engine)
    outcome = send(by_name[who], method, path, query, headers, form)
    check(engine, before, method, path + "?" + urlencode(query), outcome)


# -- the demo storefront -------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_any_request_to_the_storefront_answers_below_500_and_stays_on_site(
    app, engine, owned, browsers, data
):
    by_name, token = browsers.clients, browsers.token
    rule = data.draw(st.sampled_from(storefront_rules(app)), label="route")
    method = data.draw(
        st.sampled_from(sorted(rule.methods)) | st.sampled_from(METHODS), label="method"
    )
    values = {}
    for name in path_arguments(rule):
        known = KNOWN_STOREFRONT_VALUES.get(name, "1")
        values[name] = data.draw(st.just(known) | PATH_VALUE, label=name)
    query = data.draw(QUERY, label="query")
    fields = st.sampled_from(
        ["marketplace", "type", "email", "product_id", "purchase_type", "prospect_id",
         "subscription_id", "first_name", "last_name", "csrf_token"]
    )  # fmt: skip
    form = data.draw(
        st.dictionaries(fields, st.sampled_from(["acme", "bolt", "product.purchased", "101",
                                                 "ann@example.com"] + ODD_QUERY_VALUES)
                        | st.text(max_size=40), max_size=6),
        label="form",
    )  # fmt: skip
    if data.draw(st.booleans(), label="send the token"):
        form["csrf_token"] = token
    headers = {
        name: data.draw(strategy, label=name)
        for name, strategy in HEADERS.items()
        if data.draw(st.booleans(), label=f"send {name}")
    }
    who = data.draw(st.sampled_from(sorted(by_name)), label="who")
    path = path_with(rule, values)
    before = addon_tables(engine)
    outcome = send(by_name[who], method, path, query, headers, form)
    check(engine, before, method, path + "?" + urlencode(query), outcome)
    if rule.endpoint in ("login", "logout"):
        browsers.sign_in_again()  # as acme, for the examples that follow
