"""What every screen shares: one URL for the page and its fragment, the marketplace guard,
security headers, no inline script, escaping, vendored htmx, and the host's layout."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from flask import url_for

from tests import test_views_support as support
from tests.conftest import PASSWORD, USERNAME, configure

merchant = support.merchant

SCREENS = [
    ("addon.settings", {}),
    ("addon.global_rules", {}),
    ("addon.logs", {}),
    ("addon.product_tab", {"product_id": "101"}),
]
VENDOR = Path(__file__).resolve().parents[1] / "addon" / "static" / "vendor"


@pytest.mark.parametrize("endpoint, values", SCREENS)
def test_each_screen_is_a_page_or_a_fragment_from_the_same_url(merchant, endpoint, values):
    page = merchant.get(endpoint, **values)
    assert page.status_code == 200
    assert "<html" in page.text and "addon/addon.css" in page.text
    assert "Demo storefront" in page.text  # inside the host's layout (ADDON_BASE_TEMPLATE)
    fragment = merchant.get(endpoint, htmx=True, **values)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="addon-screen"')
    assert "<html" not in fragment.text and "Demo storefront" not in fragment.text
    for response in (page, fragment):
        assert "HX-Request" in response.headers["Vary"]


def test_a_history_restore_gets_the_whole_page(merchant):
    restore = {"HX-History-Restore-Request": "true"}
    page = merchant.get("addon.settings", htmx=True, headers=restore)
    assert "<html" in page.text


def test_the_screen_root_carries_the_csrf_token_and_response_targets(merchant):
    page = merchant.get("addon.settings").text
    root = re.search(r'<div id="addon-screen"[^>]*>', page).group(0)
    assert 'hx-ext="response-targets"' in root
    assert f'hx-headers=\'{{"X-CSRFToken": "{merchant.token}"}}\'' in root


def test_security_headers_on_every_screen(merchant):
    for endpoint, values in SCREENS:
        headers = merchant.get(endpoint, **values).headers
        policy = headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy and "frame-ancestors 'self'" in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["X-Frame-Options"] == "SAMEORIGIN"
        assert headers["Cache-Control"] == "no-store"


def test_no_inline_script_style_or_handlers_so_the_policy_holds(merchant, integration):
    pages = [merchant.get(endpoint, **values).text for endpoint, values in SCREENS]
    pages += [
        merchant.get("addon.new_integration", provider="icontact", htmx=True).text,
        merchant.get("addon.configure_integration", provider="icontact").text,
        merchant.get("addon.new_rule").text,
    ]
    for text in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>"
        assert not re.search(r"<style\b", text) and not re.search(r"\sstyle=", text)
        assert not re.search(r"\son[a-z]+=", text), "inline event handler"
        assert "hx-on" not in text and "javascript:" not in text


def test_htmx_is_configured_for_the_policy(merchant):
    page = merchant.get("addon.settings").text
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'>', page).group(1)
    assert '"includeIndicatorStyles": false' in config and '"allowEval": false' in config


def test_a_host_that_loads_htmx_itself_gets_only_our_extension(app, merchant):
    configure(app, ADDON_INCLUDE_HTMX=False)
    page = merchant.get("addon.settings").text
    assert "htmx-2.0.11.min.js" not in page and "htmx-config" not in page
    assert "response-targets-2.0.4.min.js" in page


def test_vendored_files_match_the_recorded_versions_and_hashes(client):
    readme = (VENDOR / "README.md").read_text()
    for name in ("htmx-2.0.11.min.js", "response-targets-2.0.4.min.js"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert f"`{name}`" in readme and digest in readme
        served = client.get(url_for("addon.static", filename=f"vendor/{name}"))
        assert served.status_code == 200 and served.headers["X-Content-Type-Options"] == "nosniff"


def test_our_own_base_template_when_the_host_gives_none(app, merchant):
    configure(app, ADDON_BASE_TEMPLATE="addon/_standalone.html")
    page = merchant.get("addon.settings").text
    assert "<html" in page and "Demo storefront" not in page and "Integration Setup" in page


def test_signed_out_merchants_are_sent_to_sign_in(client, engine):
    page = client.get(url_for("addon.logs", q="x"))
    assert page.status_code == 302 and page.location == "/login?next=/integrations/logs?q%3Dx"
    htmx = client.get(url_for("addon.settings"), headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Retarget"] == "#addon-alert"
    assert "Sign in again" in htmx.text
    api = client.get(url_for("addon.settings"), headers={"Accept": "application/json"})
    assert api.status_code == 401 and api.is_json


def test_without_a_login_endpoint_signed_out_is_401(app, client, engine):
    configure(app, ADDON_LOGIN_ENDPOINT="")
    assert client.get(url_for("addon.settings")).status_code == 401


def test_the_hosts_permission_check_can_refuse(client, engine):
    support.Merchant(client)
    engine.permission_check(lambda marketplace_id: marketplace_id != "acme")
    assert client.get(url_for("addon.settings")).status_code == 403


def test_other_marketplaces_ids_are_not_found(client, engine, integration):
    bolt = support.Merchant(client, "bolt")
    assert bolt.get("addon.edit_integration", integration_id=integration.id).status_code == 404
    assert bolt.get("addon.product_tab", product_id="101").status_code == 404
    assert "Main iContact" not in bolt.get("addon.settings").text


def test_user_supplied_text_is_escaped_everywhere(merchant, engine, icontact, run_jobs):
    evil_label = "<script>alert('label')</script>"
    evil_list = '<img src=x onerror="alert(1)">'
    icontact.add_list(icontact.accounts[USERNAME], {"name": evil_list})
    integration = engine.connect("acme", label=evil_label, username=USERNAME, password=PASSWORD)
    rule = engine.add_rule(
        "acme",
        trigger="product.purchased",
        integration_id=integration.id,
        action="add",
        list_name=evil_list,
        product_id="101",
    )
    engine.emit(
        "product.purchased",
        marketplace_id="acme",
        customer={"email": "x@example.com"},
        product_id="101",
        purchase_type="primary",
    )
    run_jobs()
    texts = [
        merchant.get("addon.settings").text,
        merchant.get("addon.product_tab", product_id="101").text,
        merchant.get("addon.logs").text,
        merchant.get("addon.delete_integration", integration_id=integration.id).text,
        merchant.get("addon.edit_rule", rule_id=rule.id, htmx=True).text,
        merchant.get(
            "addon.edit_rule",
            rule_id=rule.id,
            step="list",
            trigger="product.purchased",
            integration_id=integration.id,
            action="add",
            htmx=True,
        ).text,
    ]
    for text in texts:
        assert "<script>alert(" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(&#39;label&#39;)&lt;/script&gt;" in texts[0]
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in texts[1]


def test_no_page_ever_shows_the_password(merchant, integration):
    for endpoint, values in [
        *SCREENS,
        ("addon.edit_integration", {"integration_id": integration.id}),
        ("addon.delete_integration", {"integration_id": integration.id}),
    ]:
        assert PASSWORD not in merchant.get(endpoint, **values).text


def test_the_demo_product_page_embeds_the_product_tab(merchant):
    page = merchant.client.get("/merchant/products/101").text
    assert 'hx-get="/integrations/products/101"' in page and 'hx-trigger="load"' in page
    assert "htmx-2.0.11.min.js" in page and "addon/addon.js" in page
