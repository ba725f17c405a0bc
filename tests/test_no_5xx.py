"""No 5xx anywhere, and filters that mean what they say: each input here once answered 500 or
did the wrong thing when tried by hand. (``test_fuzz_urlmap.py`` looks for more of them.)"""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import quote, urlsplit

import pytest
from flask import url_for
from sqlalchemy import select

from addon.store.models import Base, Delivery
from addon.web.webhooks import HEADER
from tests import test_views_support as support
from tests.conftest import customers_rule, list_id, purchase
from tests.test_security_routes import PLAIN_VALUES, addon_rules
from tests.test_views_support import fresh

merchant = support.merchant

MAX_ID = 2**31 - 1  # an Integer primary key on PostgreSQL
EVENT = {
    "id": "evt-1",
    "type": "product.purchased",
    "marketplace_id": "acme",
    "customer": {"email": "ann@example.com"},
    "product_id": "101",
    "purchase_type": "primary",
}


PLACEHOLDER = re.compile(r"<(?:[^:<>]+:)?(\w+)>")


def path_arguments(rule) -> list[str]:
    """The arguments in the rule's path (``rule.arguments`` also names its defaults)."""
    return PLACEHOLDER.findall(rule.rule)


def path_with(rule, values: dict[str, str]) -> str:
    """The rule's path with each argument replaced by ``values`` (percent-encoded), whether or
    not its converter would build such a URL."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        return quote(values.get(name, PLAIN_VALUES.get(name, "1")), safe="")

    return PLACEHOLDER.sub(value, rule.rule)


def addon_tables(engine) -> dict[str, list]:
    """Every row of the add-on's tables, read on a connection of its own (so no transaction
    of the test's session can show an old state)."""
    with engine.db.engine.connect() as connection:
        return {
            table.name: sorted(map(tuple, connection.execute(select(table)).all()), key=repr)
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture
def failed(engine, icontact, purchase_rule, run_jobs):
    """Two failed entries (fay, gus: their list was deleted in iContact) and one that worked
    (ann)."""
    purchase(engine, "ann@example.com")
    run_jobs()
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase(engine, "fay@example.com")
    purchase(engine, "gus@example.com")
    run_jobs()
    return engine.db.session.scalars(select(Delivery).order_by(Delivery.id)).all()


# -- the delete-rule dialog ----------------------------------------------------------------


@pytest.mark.parametrize("product_id", [None, "101"])
def test_the_delete_rule_dialog_is_a_page_of_its_own_on_reload(
    merchant, engine, integration, product_id
):
    rule = customers_rule(engine, integration, product_id=product_id)
    page = merchant.get("addon.delete_rule", rule_id=rule.id)
    assert page.status_code == 200
    assert "<html" in page.text and "Delete this rule?" in page.text
    # The screen under the dialog lists the rule.
    assert "Product Purchased" in page.text and 'id="addon-screen"' in page.text


# -- the webhook's signature ---------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "t=²,v1=00",  # str.isdigit() says yes, int() says no
        "t=١٧٠٠٠٠٠٠٠٠,v1=00",  # other scripts' digits
        "t=" + "9" * 400 + ",v1=00",  # overflows a float
        "t=" + "1" * 5000 + ",v1=00",  # beyond int()'s digit limit
        f"t={int(dt.datetime.now(dt.UTC).timestamp())},v1=é",  # compare_digest() refuses it
    ],
)
def test_an_odd_signature_timestamp_or_digest_is_401_and_stores_nothing(client, engine, header):
    response = client.post(
        "/integrations/api/events",
        data=json.dumps(EVENT).encode(),
        headers={HEADER: header, "Content-Type": "application/json"},
    )
    assert response.status_code == 401
    assert "signature" in response.get_json()["error"].lower()
    assert all(not rows for rows in addon_tables(engine).values())


# -- htmx's headers -------------------------------------------------------------------------


@pytest.mark.parametrize("current_url", ["http://[", "http://localhost:99999/", "::", ""])
def test_an_htmx_request_from_a_page_whose_address_is_no_url_is_answered(
    merchant, integration, current_url
):
    headers = {"HX-Current-URL": current_url}
    for endpoint in ("addon.settings", "addon.global_rules", "addon.logs"):
        assert merchant.get(endpoint, htmx=True, headers=headers).status_code == 200


# -- ids in paths --------------------------------------------------------------------------

ODD_IDS = [
    str(MAX_ID + 1),
    str(2**63),
    str(2**64),
    "1" + "0" * 40,
    "0",
    "-1",
    "007",
    "١٢",
    "1.5",
    "x",
]


def test_an_id_no_database_can_hold_is_404_on_every_route(app, merchant, failed):
    id_rules = [
        r for r in addon_rules(app) if r.arguments & {"integration_id", "rule_id", "entry_id"}
    ]
    assert len(id_rules) >= 9
    before = addon_tables(merchant.client.application.extensions["addon"])
    for rule in id_rules:
        for odd in ODD_IDS:
            path = path_with(rule, dict.fromkeys(rule.arguments - set(PLAIN_VALUES), odd))
            for method in sorted(rule.methods & {"GET", "POST"}):
                for htmx in (False, True):
                    headers = {"X-CSRFToken": merchant.token}
                    if htmx:
                        headers["HX-Request"] = "true"
                    response = merchant.client.open(path, method=method, headers=headers)
                    assert response.status_code == 404, (method, path, htmx)
    assert addon_tables(merchant.client.application.extensions["addon"]) == before


def test_the_largest_id_is_routed_and_not_found(merchant, integration):
    for endpoint, name in (
        ("addon.edit_integration", "integration_id"),
        ("addon.log_entry", "entry_id"),
    ):
        path = url_for(endpoint, **{name: MAX_ID})
        assert str(MAX_ID) in path
        assert merchant.client.get(path).status_code == 404


def test_product_ids_stay_strings_within_what_an_event_may_carry(merchant, integration):
    assert merchant.get("addon.product_tab", product_id="101").status_code == 200
    assert merchant.get("addon.new_rule", product_id="101").status_code == 200
    for odd in ("1" * 65, "a b", "\x00", "é", "..", "101\n"):
        path = "/integrations/products/" + quote(odd, safe="")
        assert merchant.client.get(path).status_code == 404, odd
        assert merchant.client.get(path + "/rules/new").status_code == 404, odd


# -- the Logs filters ----------------------------------------------------------------------


def test_the_last_day_of_the_calendar_is_a_date_to_like_any_other(merchant, engine, failed):
    page = merchant.get("addon.logs", date_to="9999-12-31")
    assert page.status_code == 200 and "3 entries" in page.text
    since = merchant.get("addon.logs", date_from="0001-01-01", date_to="9999-12-31", htmx=True)
    assert since.status_code == 200 and "3 entries" in since.text
    answer = merchant.post("addon.retry_failed", {"date_to": "9999-12-31"})
    assert answer.status_code == 200 and "Queued 2 failed entries again." in answer.text
    assert fresh(engine, Delivery, failed[1].id).status == "pending"


@pytest.mark.parametrize(
    "filters",
    [
        {"integration_id": "999"},  # not one of the merchant's integrations
        {"q": "fay" + "x" * 300},  # over the search's limit
        {"q": "x" * 1_000_000},
        {"q": "fay\x00"},
        {"date_from": "2030-01-02", "date_to": "2030-01-01"},
        {"date_to": "tomorrow"},
    ],
)
@pytest.mark.parametrize("htmx", [True, False])
def test_retry_all_failed_with_an_invalid_filter_refuses_and_retries_nothing(
    merchant, engine, failed, filters, htmx
):
    before = addon_tables(engine)
    answer = merchant.post("addon.retry_failed", filters, htmx=htmx)
    assert answer.status_code == 422
    assert "Nothing was retried." in answer.text
    assert "Location" not in answer.headers and len(answer.text) < 2_000_000
    assert addon_tables(engine) == before
    assert [fresh(engine, Delivery, entry.id).status for entry in failed] == [
        "success",
        "failed",
        "failed",
    ]


def test_retry_all_failed_carries_only_the_filters_in_force(merchant, failed):
    """The Logs page ignores an invalid filter; so does its *Retry all failed* button."""
    page = merchant.get("addon.logs", q="x" * 300, trigger="bogus").text
    assert "Retry all failed (2)" in page
    button = page[page.index('action="/integrations/logs/retry-failed"') :]
    button = button[: button.index("</form>")]
    assert 'name="q"' not in button and 'name="trigger"' not in button


def test_a_redirect_after_retry_all_failed_carries_only_valid_filters(merchant, failed):
    answer = merchant.post("addon.retry_failed", {"q": "fay"}, htmx=False)
    assert answer.status_code == 303
    assert urlsplit(answer.location).query == "q=fay"


@pytest.mark.parametrize("q", ["%", "_", "a%", "%@", "\\", "\\%"])
def test_percent_and_underscore_are_searched_for_not_wildcards(merchant, failed, q):
    page = merchant.get("addon.logs", q=q, htmx=True)
    assert page.status_code == 200
    assert "No entries match this search." in page.text


def test_a_search_finds_percent_underscore_and_backslash_literally(
    merchant, engine, purchase_rule, run_jobs
):
    for email in ("a%b@example.com", "axb@example.com", "c_d@example.com", "cxd@example.com"):
        purchase(engine, email)
    run_jobs()

    def found(q):
        text = merchant.get("addon.logs", q=q, htmx=True).text
        return sorted(set(re.findall(r"[a-z%_]+@example\.com", text)))

    assert found("a%b") == ["a%b@example.com"]
    assert found("c_d") == ["c_d@example.com"]
    assert found("%") == ["a%b@example.com"]
    assert found("_") == ["c_d@example.com"]


# -- the demo storefront -------------------------------------------------------------------

LOGIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def demo_token(client, path: str = "/login") -> str:
    return LOGIN_TOKEN.search(client.get(path).text).group(1)


def sign_in(client, next_path: str | None = None):
    token = demo_token(client)
    target = "/login" if next_path is None else "/login?next=" + quote(next_path, safe="")
    return client.post(target, data={"marketplace": "acme", "csrf_token": token})


def same_origin(location: str) -> bool:
    """Whether a browser following ``location`` from http://localhost stays there: it drops
    tabs and line breaks and reads a backslash as a slash."""
    seen = re.sub(r"[\t\n\r]", "", location).replace("\\", "/").strip()
    parts = urlsplit(seen)
    return parts.netloc in ("", "localhost") and parts.scheme in ("", "http")


@pytest.mark.parametrize(
    "next_path",
    [
        "/\t/evil.example",  # next=/%09/evil.example
        "/\n/evil.example",
        "/\r\n/evil.example",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        " //evil.example",
        "\t//evil.example",
        "https://evil.example/",
        "http:evil.example",
        "https:/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\x00/evil.example",
    ],
)
def test_sign_in_never_sends_the_merchant_off_site(client, next_path):
    response = sign_in(client, next_path)
    assert response.status_code == 302
    assert same_origin(response.location), response.location
    assert response.location == "/merchant"


@pytest.mark.parametrize(
    "next_path", ["/integrations/logs?q=x", "/merchant/products/101", "/integrations/"]
)
def test_sign_in_goes_on_to_the_page_asked_for(client, next_path):
    assert sign_in(client, next_path).location == next_path


def test_the_demo_forms_need_their_csrf_token(client, engine):
    refused = client.post("/login", data={"marketplace": "acme"})
    assert refused.status_code == 400
    assert client.get("/merchant").status_code == 302  # still signed out
    assert sign_in(client).status_code == 302
    event = {"type": "product.purchased", "email": "ann@example.com", "product_id": "101"}
    assert client.post("/merchant/events", data=event).status_code == 400
    assert client.post("/logout").status_code == 400
    assert client.get("/merchant").status_code == 200  # still signed in
    assert all(not rows for rows in addon_tables(engine).values())
    token = demo_token(client, "/merchant/events")
    sent = client.post("/merchant/events", data={**event, "csrf_token": token})
    assert sent.status_code == 302 and addon_tables(engine)["addon_event"]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/merchant").status_code == 302


def test_every_demo_page_with_a_form_carries_the_token(client):
    sign_in(client)
    for path in (
        "/login",
        "/merchant",
        "/merchant/events",
        "/merchant/products/101",
        "/integrations/",
    ):
        page = client.get(path).text
        forms = page.count('method="post"')
        assert forms and page.count('name="csrf_token"') >= forms, path


def test_the_demo_session_cookie_is_same_site_lax_and_http_only(client):
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie
