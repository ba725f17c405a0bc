"""Contact searches for a paged sync (issue 18, simulator side): every contact page by page,
comparison searches on ``createDate``, and the unknown-term warning a service without them
answers, switchable so that an engine's fallback can be tested."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from addon.sandbox import SandboxState, create_sandbox_app
from tests.test_sandbox import APP_ID, APP_PASSWORD, HEADERS, USERNAME, Api


class Now:
    """A hand-driven wall clock for ``createDate``."""

    def __init__(self):
        self.value = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self):
        return self.value

    def advance(self, **delta):
        self.value += timedelta(**delta)


@pytest.fixture
def now():
    return Now()


@pytest.fixture
def state(now):
    return SandboxState(now=now)


@pytest.fixture
def client(state):
    return create_sandbox_app(state).test_client()


@pytest.fixture
def api(state, client):
    account = state.register(USERNAME, APP_ID, APP_PASSWORD, ["Buyers"])
    return Api(client, account, dict(HEADERS))


def emails(body):
    return [contact["email"] for contact in body["contacts"]]


def test_a_paged_sync_reads_every_contact_once(api, state):
    buyers = state.lists(USERNAME)[0]["listId"]
    ids = [api.contact(f"c{n}@example.com") for n in range(45)]
    for cid in ids[::2]:
        api.subscribe(cid, buyers)
    seen, offset, pages = [], 0, 0
    while True:
        body = api.get(f"/contacts?status=total&limit=20&offset={offset}").json
        assert body["total"] == 45 and "warnings" not in body
        seen += emails(body)
        pages += 1
        offset += body["limit"]
        if offset >= body["total"]:
            break
    assert pages == 3 and seen == [f"c{n}@example.com" for n in range(45)]


def test_created_after_is_a_comparison_search_on_create_date(api, now):
    api.contact("old@example.com")
    now.advance(days=1)
    api.contact("day2@example.com")
    now.advance(hours=1)
    api.contact("day2later@example.com")
    assert api.get(f"/contacts/{api.contact('x@example.com')}").json["contact"]["createDate"] == (
        "2024-05-02 13:00:00"
    )

    def search(query):
        body = api.get(f"/contacts?status=total&{query}").json
        assert "warnings" not in body
        return emails(body)

    assert search("createDate=2024-05-02&createDateSearchType=gt") == [
        "day2@example.com",
        "day2later@example.com",
        "x@example.com",
    ]
    assert search("createDate=2024-05-02 12:00:00&createDateSearchType=gt") == [
        "day2later@example.com",
        "x@example.com",
    ]
    assert search("createDate=2024-05-02 12:00:00&createDateSearchType=gte")[0] == (
        "day2@example.com"
    )
    assert search("createDate=2024-05-02&createDateSearchType=lt") == ["old@example.com"]
    between = "createDate=2024-05-01 12:00:00,2024-05-02 12:00:00&createDateSearchType=bet"
    assert search(between) == ["old@example.com", "day2@example.com"]


def test_without_comparison_searches_the_term_is_ignored_with_the_recorded_warning(
    api, client, now
):
    api.contact("old@example.com")
    now.advance(days=1)
    api.contact("new@example.com")
    switched = client.post("/icp/_sandbox/faults", json={"comparison_search": False})
    assert switched.status_code == 200 and switched.json["comparison_search"] is False
    body = api.get("/contacts?status=total&createDate=2024-05-02&createDateSearchType=gt").json
    # What is left is createDate=2024-05-02 as an equality: no contact has that exact time.
    assert body["contacts"] == [] and body["total"] == 0
    assert body["warnings"] == [
        "The data you received may not be what you expected. This happened because your request "
        "contained terms which could not be recognized and so were ignored "
        "(createDateSearchType).\nYou can do either of the following: ignore this warning and "
        "continue, or make a new request using terms listed in the API documentation."
    ]
    client.post("/icp/_sandbox/faults", json={"comparison_search": True})
    body = api.get("/contacts?status=total&createDate=2024-05-02&createDateSearchType=gt").json
    assert emails(body) == ["new@example.com"] and "warnings" not in body


def test_modify_date_is_no_documented_field_so_it_is_an_unknown_term(api):
    api.contact("a@example.com")
    body = api.get("/contacts?status=total&modifyDate=2024-01-01&modifyDateSearchType=gt").json
    assert emails(body) == ["a@example.com"]
    assert "(modifyDate, modifyDateSearchType)" in body["warnings"][0]


def test_a_page_size_cap_lowers_the_limit_and_says_so(api, state):
    for n in range(8):
        api.contact(f"c{n}@example.com")
    assert state.faults.max_page_size is None
    assert len(api.get("/contacts?status=total&limit=1000").json["contacts"]) == 8
    state.faults.update(max_page_size=5)
    body = api.get("/contacts?status=total&limit=1000").json
    assert (body["limit"], len(body["contacts"]), body["total"]) == (5, 5, 8)
    assert api.get("/contacts?status=total&limit=3").json["limit"] == 3


@pytest.mark.parametrize("value", ["²", "-1", "1.5", "0x10"])
def test_paging_numbers_that_are_not_plain_digits_are_a_400(api, value):
    response = api.get("/contacts", query_string={"status": "total", "limit": value})
    assert response.status_code == 400 and response.json["errors"]
    response = api.get("/subscriptions", query_string={"offset": value})
    assert response.status_code == 400
