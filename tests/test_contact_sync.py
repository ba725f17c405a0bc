"""The account's contacts known before a burst needs them (issue 18): synced page by page at
connect and on a schedule, kept current by one check for contacts created since, back to
per-email lookups when iContact ignores that check, never a contact blanked, never the
allowance exceeded."""

import datetime as dt

import pytest
from sqlalchemy import select

from addon.engine.sweeper import sweep
from addon.providers.icontact.sync import contact_pages
from addon.sandbox.contacts import save_contacts
from addon.state import context
from addon.store.bookkeeping import CachedContact, ContactSync
from tests.conftest import PASSWORD, USERNAME, configure, customers_rule, list_id


def existing(icontact, *emails, street="1 Main St"):
    """Contacts the merchant's account has before (or apart from) the add-on."""
    account = icontact.accounts[USERNAME]
    save_contacts(icontact, account, [{"email": e, "street": street} for e in emails])


@pytest.fixture
def call_log(monkeypatch):
    """Each API call the client makes: method, path and query."""
    from addon.providers.icontact.client import IContactClient

    recorded = []
    real = IContactClient.request

    def spy(self, method, path, **kw):
        recorded.append((method, path, dict(kw.get("params") or {})))
        return real(self, method, path, **kw)

    monkeypatch.setattr(IContactClient, "request", spy)
    return recorded


def lookups(call_log):
    return [q["email"] for m, p, q in call_log if m == "GET" and "email" in q]


def checks(call_log):
    return [q for m, p, q in call_log if m == "GET" and q.get("createDateSearchType") == "gte"]


def contact_creates(call_log):
    return [1 for m, p, _ in call_log if m == "POST" and p.endswith("/contacts")]


@pytest.fixture
def rule(engine, integration):
    customers_rule(engine, integration)


def purchase(engine, email):
    engine.emit(
        "product.purchased",
        marketplace_id="acme",
        customer={"email": email, "first_name": "F"},
        product_id="101",
        purchase_type="primary",
    )


def cached(engine):
    engine.db.session.rollback()
    rows = engine.db.session.execute(select(CachedContact.email_key, CachedContact.contact_id))
    found = {email: contact_id for email, contact_id in rows}
    engine.db.session.rollback()  # end the read: an emit joins an open transaction
    return found


def sync_row(engine, integration):
    """The integration's sync (detached: an emit joins an open transaction)."""
    engine.db.session.rollback()
    row = engine.db.session.get(ContactSync, integration.id)
    engine.db.session.expunge(row)
    engine.db.session.rollback()
    return row


def test_connecting_syncs_every_contact_of_the_account_page_by_page(
    app, engine, icontact, call_log, run_jobs
):
    configure(app, ADDON_ICONTACT_PAGE_SIZE=10)
    existing(icontact, *(f"old{n}@example.com" for n in range(25)))
    integration = engine.connect("acme", label="Main", username=USERNAME, password=PASSWORD)
    run_jobs()
    pages = [q for m, p, q in call_log if m == "GET" and q.get("status") == "total"]
    assert len(pages) == 3 and {q["limit"] for q in pages} == {10}
    assert set(cached(engine)) == {f"old{n}@example.com" for n in range(25)}
    row = sync_row(engine, integration)
    assert row.synced_at is not None and row.mark and row.searchable


def test_a_burst_of_new_customers_needs_no_lookup_and_one_check_per_batch(
    engine, rule, icontact, call_log, run_jobs
):
    existing(icontact, "old@example.com")
    run_jobs()  # the sync of the connect
    for n in range(30):
        purchase(engine, f"new{n}@example.com")
    purchase(engine, "old@example.com")
    run_jobs()
    assert lookups(call_log) == []
    assert len(checks(call_log)) == 1 and len(contact_creates(call_log)) == 1
    assert len(icontact.subscribers(list_id(icontact, "Customers"))) == 31
    assert {e.status for e in engine.logs("acme", limit=100)} == {"success"}


def test_a_customer_the_account_already_has_is_never_blanked(
    engine, rule, icontact, call_log, run_jobs
):
    existing(icontact, "old@example.com")
    run_jobs()
    purchase(engine, "Old@Example.com")
    run_jobs()
    [contact] = icontact.contacts(USERNAME)
    assert contact["street"] == "1 Main St" and contact_creates(call_log) == []
    assert icontact.subscribers(list_id(icontact, "Customers")) == {"old@example.com": "normal"}


def test_a_contact_created_in_icontact_since_the_sync_is_found_by_the_check(
    engine, rule, icontact, call_log, run_jobs
):
    existing(icontact, "old@example.com")
    run_jobs()
    existing(icontact, "meanwhile@example.com", street="2 Side St")  # by the merchant
    purchase(engine, "meanwhile@example.com")
    run_jobs()
    assert lookups(call_log) == [] and contact_creates(call_log) == []
    streets = {c["email"]: c["street"] for c in icontact.contacts(USERNAME)}
    assert streets["meanwhile@example.com"] == "2 Side St"
    assert "meanwhile@example.com" in cached(engine)


def test_when_icontact_ignores_the_check_new_customers_are_looked_up_again(
    engine, rule, integration, icontact, call_log, run_jobs
):
    existing(icontact, "old@example.com")
    run_jobs()
    icontact.faults.update(comparison_search=False)  # answered with the recorded warning
    existing(icontact, "meanwhile@example.com", street="2 Side St")
    purchase(engine, "meanwhile@example.com")
    purchase(engine, "new@example.com")
    run_jobs()
    assert sorted(lookups(call_log)) == ["meanwhile@example.com", "new@example.com"]
    assert sync_row(engine, integration).searchable is False
    streets = {c["email"]: c["street"] for c in icontact.contacts(USERNAME)}
    assert streets["meanwhile@example.com"] == "2 Side St"
    call_log.clear()
    purchase(engine, "another@example.com")
    run_jobs()
    # Not tried again until the next full sync: the lookup alone.
    assert checks(call_log) == [] and lookups(call_log) == ["another@example.com"]


def test_a_contact_deleted_in_icontact_after_the_sync_is_created_anew(
    engine, rule, icontact, run_jobs
):
    existing(icontact, "old@example.com")
    run_jobs()
    old = cached(engine)["old@example.com"]
    with icontact.lock:
        account = icontact.accounts[USERNAME]
        account.contacts.pop(old)
        account.emails.pop("old@example.com")
    purchase(engine, "old@example.com")
    run_jobs()
    assert cached(engine)["old@example.com"] != old
    assert icontact.subscribers(list_id(icontact, "Customers")) == {"old@example.com": "normal"}
    assert engine.logs("acme")[0].status == "success"


def test_a_sync_never_exceeds_the_allowance(app, engine, icontact, run_jobs):
    configure(app, ADDON_ICONTACT_CALLS_PER_MINUTE=120, ADDON_ICONTACT_PAGE_SIZE=5)
    icontact.faults.update(calls_per_minute=120)
    existing(icontact, *(f"old{n}@example.com" for n in range(60)))
    icontact.stats.__init__()  # count from here
    engine.connect("acme", label="Main", username=USERNAME, password=PASSWORD)
    run_jobs()  # 2 discovery calls and 14 pages: more than the burst of 12
    assert len(cached(engine)) == 60
    assert icontact.stats.throttled == 0 and icontact.stats.max_per_minute <= 120


def test_a_sync_is_asked_for_again_once_it_is_older_than_the_setting(
    app, engine, integration, icontact, run_jobs
):
    configure(app, ADDON_CONTACT_SYNC_HOURS=6)
    run_jobs()
    first = sync_row(engine, integration).synced_at
    existing(icontact, "later@example.com")
    row = engine.db.session.get(ContactSync, integration.id)
    row.synced_at = first - dt.timedelta(hours=7)
    engine.db.session.commit()
    with app.app_context():
        sweep()
    run_jobs()
    assert sync_row(engine, integration).synced_at >= first
    assert "later@example.com" in cached(engine)


class Pages:
    """A client answering contact pages with a warning: a term it did not recognise."""

    transcript: list = []

    def folder_path(self, suffix):
        return suffix

    def request(self, method, path, params=None, json=None):
        return {
            "contacts": [{"email": "a@example.com", "contactId": "1", "createDate": "2026"}],
            "total": 1,
            "warnings": ["...terms which could not be recognized and so were ignored (status)"],
        }


def test_a_contact_list_answered_with_a_warning_is_not_a_complete_sync(app):
    with app.app_context():
        [page] = contact_pages(context().settings, Pages())
    assert page.contacts == {"a@example.com": "1"} and page.complete is False


def subscribe_posts(call_log):
    return [1 for m, p, _ in call_log if m == "POST" and p.endswith("/subscriptions")]


def backlog_of_100(app, engine, run_jobs, calls_per_minute):
    configure(
        app,
        ADDON_CLAIM_BATCH=10,
        ADDON_CLAIM_BATCH_MAX=40,
        ADDON_PARALLEL_DRAINS=1,
        ADDON_ICONTACT_CALLS_PER_MINUTE=calls_per_minute,
    )
    run_jobs()
    for n in range(100):
        purchase(engine, f"new{n}@example.com")
    run_jobs()


def test_when_the_allowance_sets_the_pace_a_synced_integrations_claims_grow(
    app, engine, rule, icontact, call_log, run_jobs
):
    backlog_of_100(app, engine, run_jobs, calls_per_minute=600)
    assert len(subscribe_posts(call_log)) == 4  # claims of 10, 20, 40 and the last 30
    assert len(icontact.subscribers(list_id(icontact, "Customers"))) == 100


def test_when_the_worker_sets_the_pace_claims_stay_as_they_are(
    app, engine, rule, icontact, call_log, run_jobs
):
    """Far below the allowance, big claims would keep other workers from the backlog (a
    customer's deliveries go in order): claims of 10."""
    backlog_of_100(app, engine, run_jobs, calls_per_minute=10_000_000)
    assert len(subscribe_posts(call_log)) == 10


def test_a_post_carries_at_most_the_records_per_call_setting(
    app, engine, rule, icontact, call_log, run_jobs
):
    configure(app, ADDON_ICONTACT_BATCH_SIZE=15)
    run_jobs()
    for n in range(40):
        purchase(engine, f"new{n}@example.com")
    run_jobs()
    assert len(contact_creates(call_log)) == 3  # 15 + 15 + 10
    assert len(icontact.subscribers(list_id(icontact, "Customers"))) == 40
