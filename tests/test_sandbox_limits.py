"""The simulator's limits (issue 18, simulator side): how many records one POST takes, and the
per-account calls-per-minute allowance, which can run time-scaled by a factor k."""

from __future__ import annotations

import pytest

from addon.sandbox import SandboxState, create_sandbox_app
from tests.test_sandbox import APP_ID, APP_PASSWORD, HEADERS, USERNAME, Api, Clock

TOO_MANY = (
    "The request contained {count} records; at most {limit} are accepted in one request. "
    "Please send them in smaller batches"
)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def state(clock):
    return SandboxState(clock=clock)


@pytest.fixture
def client(state):
    return create_sandbox_app(state).test_client()


@pytest.fixture
def api(state, client):
    account = state.register(USERNAME, APP_ID, APP_PASSWORD, ["Buyers"])
    return Api(client, account, dict(HEADERS))


def contacts(first, count):
    return [{"email": f"c{n}@example.com"} for n in range(first, first + count)]


def test_one_post_takes_ten_thousand_contacts_and_their_subscriptions_by_default(api, state):
    assert state.faults.max_batch == 10_000
    created = api.post("/contacts", contacts(0, 10_000)).json["contacts"]
    assert len(created) == 10_000
    buyers = state.lists(USERNAME)[0]["listId"]
    pairs = [{"contactId": c["contactId"], "listId": buyers, "status": "normal"} for c in created]
    assert len(api.post("/subscriptions", pairs).json["subscriptions"]) == 10_000


def test_a_post_over_the_cap_is_refused_whole(api, state):
    state.faults.update(max_batch=5)
    too_many = api.post("/contacts", contacts(0, 6))
    assert too_many.status_code == 400
    assert too_many.json == {"errors": [TOO_MANY.format(count=6, limit=5)]}
    assert state.contacts(USERNAME) == []
    assert len(api.post("/contacts", contacts(0, 5)).json["contacts"]) == 5
    buyers = state.lists(USERNAME)[0]["listId"]
    pairs = [{"contactId": "1", "listId": buyers, "status": "normal"}] * 6
    assert api.post("/subscriptions", pairs).status_code == 400
    assert api.post("/lists", [{"name": f"L{n}"} for n in range(6)]).status_code == 400
    state.faults.update(max_batch=None)
    assert len(api.post("/contacts", contacts(5, 6)).json["contacts"]) == 6


def test_the_allowance_is_per_account(api, state, client):
    other = state.register("other@example.com", "other-app", "pw")
    other_api = Api(
        client,
        other,
        {**HEADERS, "API-AppId": "other-app", "API-Username": other.username, "API-Password": "pw"},
    )
    state.faults.update(calls_per_minute=2)
    assert [api.get("/lists").status_code for _ in range(3)] == [200, 200, 503]
    assert [other_api.get("/lists").status_code for _ in range(2)] == [200, 200]
    assert state.stats.accounts[USERNAME].throttled == 1
    assert state.stats.accounts["other@example.com"].throttled == 0


def test_a_time_scale_of_k_makes_the_minute_last_60_over_k_seconds(api, state, clock):
    state.faults.update(calls_per_minute=60, time_scale=10)
    assert all(api.get("/lists").status_code == 200 for _ in range(60))
    assert api.get("/lists").status_code == 503
    clock.now += 6.01  # one scaled minute later
    assert api.get("/lists").status_code == 200
    traffic = state.stats.accounts[USERNAME]
    assert (traffic.calls, traffic.throttled, traffic.max_per_minute) == (62, 1, 61)


def test_time_scaled_calls_spread_over_the_scaled_minute_stay_within(api, state, clock):
    state.faults.update(calls_per_minute=60, time_scale=8)
    for _ in range(300):
        assert api.get("/lists").status_code == 200
        clock.now += 0.125  # 60 calls per 7.5 s: the allowance, k times faster (exact in binary)
    assert state.stats.max_per_minute == 60 and state.stats.throttled == 0


@pytest.mark.parametrize(
    "knobs",
    [
        {"time_scale": 0},
        {"time_scale": "fast"},
        {"max_batch": 0},
        {"max_batch": 1.5},
        {"max_page_size": -1},
        {"comparison_search": "no"},
    ],
)
def test_new_knobs_are_checked_by_the_control_api(client, state, knobs):
    before = state.faults.as_dict()
    response = client.post("/icp/_sandbox/faults", json=knobs)
    (name,) = knobs
    assert response.status_code == 400
    assert response.json["errors"][0].startswith(f"{name} must")
    assert state.faults.as_dict() == before


def test_new_knobs_are_set_by_the_control_api(client, state):
    knobs = {"time_scale": 4, "max_batch": 500, "max_page_size": 100, "comparison_search": False}
    assert client.post("/icp/_sandbox/faults", json=knobs).status_code == 200
    assert client.get("/icp/_sandbox/faults").json == {
        "latency": 0.0,
        "error_500_rate": 0.0,
        "error_503_rate": 0.0,
        "calls_per_minute": None,
        "time_scale": 4.0,
        "max_batch": 500,
        "max_page_size": 100,
        "comparison_search": False,
    }
