"""The Check screen: Integration Setup's row shows the last check; the page lists the
differences by list; Check now and Fix these N are forms that post and redirect."""

from __future__ import annotations

from addon.sandbox.by_hand import removes_by_hand
from addon.sandbox.consent import person_unsubscribes
from tests import test_views_support as support
from tests.conftest import list_id, purchase

merchant = support.merchant


def test_a_never_checked_integration_says_so_and_links_to_its_check(merchant, integration):
    page = merchant.get("addon.settings").text
    assert "Not checked against its lists yet" in page
    assert f"/integrations/{integration.id}/check" in page
    check = merchant.get("addon.check_integration", integration_id=integration.id)
    assert check.status_code == 200 and "Not checked yet." in check.text
    assert 'id="addon-start-check"' in check.text


def test_check_now_then_fix_without_javascript(
    merchant, engine, icontact, integration, purchase_rule, run_jobs
):
    for name in ("ann", "bob", "cy"):
        purchase(engine, f"{name}@example.com", event_id=f"o-{name}")
    run_jobs()
    customers = list_id(icontact, "Customers")
    removes_by_hand(icontact, customers, email="ann@example.com")
    person_unsubscribes(icontact, customers, email="cy@example.com")

    started = merchant.post("addon.start_check", htmx=False, integration_id=integration.id)
    assert started.status_code == 303
    running = merchant.get("addon.check_integration", integration_id=integration.id).text
    assert "Checking since" in running and 'hx-trigger="every 2s"' in running
    assert ">Refresh</a>" in running  # without JavaScript, the page is reloaded by hand
    run_jobs()
    done = merchant.get("addon.check_integration", integration_id=integration.id).text
    assert "1 missing" in done and "0 extra" in done and "1 opted out" in done
    assert "every 2s" not in done  # the polling stops
    assert "ann@example.com" in done and "cy@example.com" in done
    assert "Fix these 1" in done
    # Missing from this list, not from every list: Fix adds them to this one.
    assert "iContact does not have them on it. Fix adds them." in done
    row = merchant.get("addon.settings").text
    assert "1 missing, 0 extra, 1 opted out" in row

    fixed = merchant.post("addon.fix_check", htmx=False, integration_id=integration.id)
    assert fixed.status_code == 303
    run_jobs()
    after = merchant.get("addon.check_integration", integration_id=integration.id).text
    assert "1 fix queued" in after and "all applied" in after
    assert icontact.subscribers(customers)["ann@example.com"] == "normal"
    assert icontact.subscribers(customers)["cy@example.com"] == "unsubscribed"
