"""The simulator models consent: a person unsubscribes or confirms, iContact marks a contact
bounced or donotcontact, and what the API then does with subscriptions (issue 16, simulator side).

Where the reference is silent the simulator chooses (documented in ``addon.sandbox.subscriptions``):
re-posting a pair upserts its status even after the person's own unsubscribe (and the
consent log notes it); subscribing a donotcontact or bounced contact is refused per record.
"""

from __future__ import annotations

import pytest

from addon.sandbox import SandboxState, create_sandbox_app
from tests.test_sandbox import (
    APP_ID,
    APP_PASSWORD,
    HEADERS,
    RECORDED_SUBSCRIPTION_KEYS,
    USERNAME,
    Api,
)

NOT_SUBSCRIBABLE = (
    "The contact you provided ({contact_id}) has status {status} and cannot be subscribed. "
    "This record was ignored"
)


@pytest.fixture
def state():
    return SandboxState()


@pytest.fixture
def client(state):
    return create_sandbox_app(state).test_client()


@pytest.fixture
def api(state, client):
    account = state.register(USERNAME, APP_ID, APP_PASSWORD, ["Buyers", "VIP"])
    return Api(client, account, dict(HEADERS))


@pytest.fixture
def buyers(state, api):
    return state.lists(USERNAME)[0]["listId"]


def subscription(api, list_id, contact_id):
    return api.get(f"/subscriptions/{list_id}_{contact_id}").json["subscription"]


def stored(state, list_id, contact_id):
    return state.accounts[USERNAME].subscriptions[(list_id, contact_id)]


# -- a person unsubscribes -------------------------------------------------------------------


def test_a_person_unsubscribes_with_the_link_on_the_page(api, client, state, buyers):
    ann = api.contact("ann@example.com")
    api.subscribe(ann, buyers)
    page = client.get("/").get_data(as_text=True)
    action = f"/icp/core/subscriptions/{buyers}_{ann}/unsubscribe"
    assert f'action="{action}"' in page and ">Unsubscribe</button>" in page

    response = client.post(action)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/#list-{buyers}")
    assert subscription(api, buyers, ann)["status"] == "unsubscribed"
    assert stored(state, buyers, ann)["unsubscribedBy"] == "person"
    assert "(by person)" in client.get("/").get_data(as_text=True)
    assert client.post("/icp/core/subscriptions/1_2/unsubscribe").status_code == 404


def test_a_person_unsubscribes_through_the_control_api(api, client, state, buyers):
    ann, bob = api.contact("ann@example.com"), api.contact("bob@example.com")
    api.subscribe(ann, buyers)
    api.subscribe(bob, buyers)
    by_id = client.post("/icp/_sandbox/unsubscribe", json={"list_id": buyers, "contact_id": ann})
    assert by_id.status_code == 200
    assert by_id.json["subscription"]["status"] == "unsubscribed"
    assert by_id.json["unsubscribedBy"] == "person" and by_id.json["unsubscribedAt"]
    by_email = client.post(
        "/icp/_sandbox/unsubscribe", json={"list_id": buyers, "email": "BOB@example.com"}
    )
    assert by_email.json["subscription"]["contactId"] == bob
    assert state.subscribers(buyers) == {
        "ann@example.com": "unsubscribed",
        "bob@example.com": "unsubscribed",
    }
    unknown = client.post("/icp/_sandbox/unsubscribe", json={"list_id": buyers, "contact_id": "1"})
    assert unknown.status_code == 404 and unknown.json["errors"]
    both = {"list_id": buyers, "contact_id": ann, "email": "ann@example.com"}
    assert client.post("/icp/_sandbox/unsubscribe", json=both).status_code == 400
    assert client.post("/icp/_sandbox/unsubscribe", json={"list_id": buyers}).status_code == 400


def test_the_wire_never_shows_who_unsubscribed(api, client, buyers):
    ann = api.contact("ann@example.com")
    api.subscribe(ann, buyers)
    done = client.post("/icp/_sandbox/unsubscribe", json={"list_id": buyers, "contact_id": ann})
    assert done.json["unsubscribedBy"] == "person"
    assert list(subscription(api, buyers, ann)) == RECORDED_SUBSCRIPTION_KEYS
    listed = api.get(f"/subscriptions?listId={buyers}").json["subscriptions"]
    assert [list(item) for item in listed] == [RECORDED_SUBSCRIPTION_KEYS]


def test_an_api_client_can_resubscribe_a_person_who_unsubscribed_and_it_is_logged(
    api, client, state, buyers
):
    ann = api.contact("ann@example.com")
    api.subscribe(ann, buyers)
    client.post("/icp/_sandbox/unsubscribe", json={"list_id": buyers, "contact_id": ann})
    unsubscribed_at = stored(state, buyers, ann)["unsubscribedAt"]

    again = api.subscribe(ann, buyers)
    assert again.status_code == 200 and "warnings" not in again.json
    assert subscription(api, buyers, ann)["status"] == "normal"
    (override,) = client.get("/icp/_sandbox/consent").json["overrides"]
    assert override["email"] == "ann@example.com" and override["listId"] == buyers
    assert override["unsubscribedAt"] == unsubscribed_at and override["status"] == "normal"
    assert client.get("/icp/_sandbox/state").json["consent"]["overrides"] == [override]


def test_the_api_undoing_its_own_unsubscribe_is_no_override(api, client, state, buyers):
    ann = api.contact("ann@example.com")
    api.subscribe(ann, buyers)
    api.post(f"/subscriptions/{buyers}_{ann}", {"status": "unsubscribed"})
    assert stored(state, buyers, ann)["unsubscribedBy"] == "api"
    api.subscribe(ann, buyers)
    assert subscription(api, buyers, ann)["status"] == "normal"
    assert "unsubscribedBy" not in stored(state, buyers, ann)
    assert client.get("/icp/_sandbox/consent").json == {"overrides": [], "refusals": []}


# -- bounced and donotcontact ---------------------------------------------------------------------


def test_iContact_marks_contacts_bounced_or_donotcontact(api, client, state):
    ann, bob = api.contact("ann@example.com"), api.contact("bob@example.com")
    bounced = client.post(
        "/icp/_sandbox/contact-status", json={"contact_id": ann, "status": "bounced"}
    )
    assert bounced.status_code == 200
    assert (bounced.json["contact"]["status"], bounced.json["contact"]["bounceCount"]) == (
        "bounced",
        "1",
    )
    page = client.get("/").get_data(as_text=True)
    assert f'action="/icp/core/contacts/{bob}/status"' in page and "Mark donotcontact" in page
    marked = client.post(f"/icp/core/contacts/{bob}/status", data={"status": "donotcontact"})
    assert marked.status_code == 303

    def emails(status):
        return [c["email"] for c in api.get(f"/contacts?status={status}").json["contacts"]]

    assert emails("bounced") == ["ann@example.com"]
    assert emails("donotcontact") == ["bob@example.com"]
    by_email = client.post(
        "/icp/_sandbox/contact-status",
        json={"email": "Ann@example.com", "username": USERNAME, "status": "normal"},
    )
    assert by_email.json["contact"]["status"] == "normal"
    for bad in ({"contact_id": ann, "status": "gone"}, {"status": "bounced"}):
        assert client.post("/icp/_sandbox/contact-status", json=bad).status_code == 400
    missing = client.post("/icp/_sandbox/contact-status", json={"contact_id": "1", "status": "x"})
    assert missing.status_code == 400
    absent = {"contact_id": "1", "status": "bounced"}
    assert client.post("/icp/_sandbox/contact-status", json=absent).status_code == 404
    assert client.post(f"/icp/core/contacts/{ann}/status", data={"status": "x"}).status_code == 400


def test_subscribing_donotcontact_or_bounced_contacts_is_refused_per_record(
    api, client, state, buyers
):
    fine, blocked, bounced = (api.contact(f"{n}@example.com") for n in ("fine", "dnc", "bounce"))
    state_api = "/icp/_sandbox/contact-status"
    client.post(state_api, json={"contact_id": blocked, "status": "donotcontact"})
    client.post(state_api, json={"contact_id": bounced, "status": "bounced"})
    body = api.post(
        "/subscriptions",
        [
            {"contactId": fine, "listId": buyers, "status": "normal"},
            {"contactId": blocked, "listId": buyers, "status": "normal"},
            {"contactId": bounced, "listId": buyers, "status": "pending"},
        ],
    ).json
    assert [item["contactId"] for item in body["subscriptions"]] == [fine]
    assert body["warnings"] == [
        NOT_SUBSCRIBABLE.format(contact_id=blocked, status="donotcontact"),
        NOT_SUBSCRIBABLE.format(contact_id=bounced, status="bounced"),
    ]
    assert state.subscribers(buyers) == {"fine@example.com": "normal"}
    refusals = client.get("/icp/_sandbox/consent").json["refusals"]
    assert [(r["email"], r["contactStatus"]) for r in refusals] == [
        ("dnc@example.com", "donotcontact"),
        ("bounce@example.com", "bounced"),
    ]
    # Removing is always allowed.
    removed = api.subscribe(blocked, buyers, "unsubscribed").json
    assert removed["subscriptions"][0]["status"] == "unsubscribed"


def test_a_contact_marked_donotcontact_keeps_its_subscriptions_but_takes_no_new_normal(
    api, client, state, buyers
):
    ann = api.contact("ann@example.com")
    api.subscribe(ann, buyers)
    client.post("/icp/_sandbox/contact-status", json={"contact_id": ann, "status": "donotcontact"})
    assert subscription(api, buyers, ann)["status"] == "normal"
    again = api.subscribe(ann, buyers).json
    assert again["subscriptions"] is None and "donotcontact" in again["warnings"][0]
    single = api.post(f"/subscriptions/{buyers}_{ann}", {"status": "normal"})
    assert single.status_code == 400 and "donotcontact" in single.json["errors"][0]
    assert api.post(f"/subscriptions/{buyers}_{ann}", {"status": "unsubscribed"}).status_code == 200


def test_donotcontact_cannot_be_changed_back_by_the_api(api, client):
    ann = api.contact("ann@example.com", firstName="Ann")
    api.post(f"/contacts/{ann}", {"status": "donotcontact"})
    refused = api.post(f"/contacts/{ann}", {"status": "normal"})
    assert refused.status_code == 400
    assert refused.json["errors"] == [
        "The status of this contact is donotcontact and cannot be changed. Please leave status out"
    ]
    assert api.put(f"/contacts/{ann}", {"email": "ann@example.com"}).status_code == 200
    batch = api.post(
        "/contacts", [{"email": "ann@example.com", "lastName": "Lee", "status": "normal"}]
    )
    (record,) = batch.json["contacts"]
    assert (record["status"], record["lastName"]) == ("donotcontact", "Lee")
    assert batch.json["warnings"] == [
        "The status of the contact ann@example.com is donotcontact and cannot be changed; "
        "status was ignored"
    ]
    # A bounce is iContact's finding, not a lock: the account may clear it.
    bob = api.contact("bob@example.com")
    client.post("/icp/_sandbox/contact-status", json={"contact_id": bob, "status": "bounced"})
    assert api.post(f"/contacts/{bob}", {"status": "normal"}).json["contact"]["status"] == "normal"


# -- double opt-in ----------------------------------------------------------------------------


def test_double_opt_in_stays_pending_until_the_person_confirms(api, client, state, buyers):
    ann = api.contact("ann@example.com")
    body = [{"contactId": ann, "listId": buyers, "status": "pending", "confirmationMessageId": 77}]
    created = api.post("/subscriptions", body).json
    (record,) = created["subscriptions"]
    assert list(record) == RECORDED_SUBSCRIPTION_KEYS and record["status"] == "pending"
    assert "warnings" not in created
    assert stored(state, buyers, ann)["confirmationMessageId"] == "77"
    # Not on a list until confirmed.
    assert api.get("/contacts").json["total"] == 0
    assert api.get("/contacts?status=unlisted").json["total"] == 1

    page = client.get("/").get_data(as_text=True)
    assert f'action="/icp/core/subscriptions/{buyers}_{ann}/confirm"' in page
    confirmed = client.post(
        "/icp/_sandbox/confirm", json={"list_id": buyers, "email": "ann@example.com"}
    )
    assert confirmed.status_code == 200
    assert subscription(api, buyers, ann)["status"] == "normal"
    assert api.get("/contacts").json["total"] == 1
    again = client.post("/icp/_sandbox/confirm", json={"list_id": buyers, "contact_id": ann})
    assert again.status_code == 409
    assert client.post(f"/icp/core/subscriptions/{buyers}_{ann}/confirm").status_code == 409


def test_the_page_confirms_a_pending_subscription(api, client, buyers):
    ann = api.contact("ann@example.com")
    api.subscribe(ann, buyers, "pending")
    response = client.post(f"/icp/core/subscriptions/{buyers}_{ann}/confirm")
    assert response.status_code == 303
    assert subscription(api, buyers, ann)["status"] == "normal"


def test_a_confirmation_message_id_must_be_an_id(api, buyers):
    ann = api.contact("ann@example.com")
    body = [{"contactId": ann, "listId": buyers, "status": "pending", "confirmationMessageId": "x"}]
    answer = api.post("/subscriptions", body).json
    assert answer["subscriptions"] is None
    assert answer["warnings"] == [
        "The confirmationMessageId you provided (x) was not valid. "
        "Please provide a valid confirmationMessageId"
    ]


# -- reading subscription states per list, in pages -------------------------------------------


def test_subscription_states_are_read_per_list_and_status_in_pages(api, client, state):
    buyers, vip = (record["listId"] for record in state.lists(USERNAME))
    ids = [api.contact(f"p{n}@example.com") for n in range(45)]
    api.post(
        "/subscriptions",
        [{"contactId": cid, "listId": buyers, "status": "normal"} for cid in ids]
        + [{"contactId": cid, "listId": vip, "status": "normal"} for cid in ids[:5]],
    )
    for cid in ids[::3]:
        client.post("/icp/_sandbox/unsubscribe", json={"list_id": buyers, "contact_id": cid})

    def read_all(status):
        seen, offset = [], 0
        while True:
            page = api.get(
                f"/subscriptions?listId={buyers}&status={status}&limit=10&offset={offset}"
            ).json
            seen += [item["contactId"] for item in page["subscriptions"]]
            offset += page["limit"]
            if offset >= page["total"]:
                return seen, page["total"]

    gone, total_gone = read_all("unsubscribed")
    kept, total_kept = read_all("normal")
    assert (total_gone, total_kept) == (15, 30)
    assert gone == ids[::3] and sorted(kept) == sorted(set(ids) - set(ids[::3]))
    assert api.get(f"/subscriptions?listId={vip}").json["total"] == 5
