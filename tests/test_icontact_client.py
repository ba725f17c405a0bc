"""The iContact client's transport: what a slow, unreachable or odd server becomes, and the
connection settings it takes from the environment."""

from __future__ import annotations

import os
import time

import pytest
import urllib3
from flask import Flask, Response, redirect

from addon.engine.integrations import client_for
from addon.providers import InvalidData, TemporaryFailure
from addon.providers.icontact import session as icontact_module
from addon.providers.icontact.client import IContactClient
from addon.providers.icontact.session import api_pool
from addon.sandbox import serve_in_thread
from addon.state import context
from addon.state import session as db_session
from addon.store.models import Integration
from tests.conftest import APP_ID, PASSWORD, USERNAME, configure, purchase


def client(base_url: str, **kw) -> IContactClient:
    return IContactClient(base_url, APP_ID, USERNAME, PASSWORD, **kw)


@pytest.fixture
def odd_server():
    """A server that answers the API's paths the way iContact never should."""
    app = Flask("odd")

    @app.get("/icp/a/")
    def moved():
        return redirect("https://example.com/icp/a/", 301)

    @app.get("/icp/a/1/c/")
    def html():
        return Response("<html>Maintenance</html>", status=200, mimetype="text/html")

    base_url, server = serve_in_thread(app)
    yield base_url.rsplit("/icp", 1)[0] + "/icp"
    server.shutdown()


def test_a_call_answers_with_the_decoded_body(icontact):
    account_id, folder_id = client(icontact.base_url).discover()
    assert account_id.isdigit() and folder_id.isdigit()


def test_a_call_slower_than_the_read_timeout_is_a_temporary_failure(icontact):
    icontact.faults.update(latency=0.5)
    api = client(icontact.base_url, timeout=(2.0, 0.1))
    with pytest.raises(TemporaryFailure, match="did not answer in time"):
        api.request("GET", "/a/")
    assert api.transcript[-1]["error"] == "timeout"
    time.sleep(0.6)  # the simulator finishes the call, which must not count in the next test


def test_a_post_that_timed_out_is_not_sent_again(icontact):
    """Whether it reached iContact is unknown: the engine retries later, after a lookup,
    rather than the transport at once (a second create could act twice)."""
    account_id, folder_id = client(icontact.base_url).discover()
    ids = {"account_id": account_id, "client_folder_id": folder_id}
    before = icontact.stats.total_calls
    icontact.faults.update(latency=0.3)
    with pytest.raises(TemporaryFailure):
        client(icontact.base_url, timeout=(2.0, 0.1), **ids).create_contacts(
            [{"email": "once@example.com"}]
        )
    time.sleep(0.4)  # the simulator finishes the call it was sent
    assert icontact.stats.total_calls == before + 1
    assert [c["email"] for c in icontact.contacts(USERNAME)] == ["once@example.com"]


def test_an_unreachable_api_is_a_temporary_failure():
    api = client("http://127.0.0.1:9/icp", timeout=(0.5, 0.5))
    with pytest.raises(TemporaryFailure, match="Could not reach iContact"):
        api.request("GET", "/a/")
    assert api.transcript[-1]["error"] == "connection failed"


def test_a_redirect_is_reported_not_followed(odd_server):
    with pytest.raises(InvalidData, match=r"HTTP 301, a redirect to https://example.com/icp/a/"):
        client(odd_server).request("GET", "/a/")


def test_an_answer_that_is_not_json_is_kept_as_text_in_the_transcript(odd_server):
    api = client(odd_server)
    with pytest.raises(TemporaryFailure, match="unreadable answer"):
        api.request("GET", "/a/1/c/")
    assert api.transcript[-1]["response"] == "<html>Maintenance</html>"


def test_credentials_never_reach_the_transcript(icontact):
    api = client(icontact.base_url)
    api.discover()
    assert PASSWORD not in repr(api.transcript)


def test_the_pool_takes_the_proxy_from_the_environment(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret@proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost")
    pool = api_pool("https://app.icontact.com/icp")
    assert isinstance(pool, urllib3.ProxyManager)
    assert pool.proxy.host == "proxy.internal"
    assert pool.proxy_headers["proxy-authorization"].startswith("Basic ")


def test_hosts_in_no_proxy_are_reached_directly(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "app.icontact.com")
    assert not isinstance(api_pool("https://app.icontact.com/icp"), urllib3.ProxyManager)


def test_the_pool_verifies_against_the_ca_bundle_the_environment_names(monkeypatch, tmp_path):
    bundle = tmp_path / "corporate-ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    pool = api_pool("https://app.icontact.com/icp")
    assert pool.connection_pool_kw["ca_certs"] == str(bundle)
    assert pool.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"


@pytest.fixture
def pools_made(monkeypatch):
    """Every connection pool made for the iContact API, in order."""
    made = []

    def spy(*args, **kw):
        made.append(api_pool(*args, **kw))
        return made[-1]

    monkeypatch.setattr(icontact_module, "api_pool", spy)
    return made


def test_a_worker_keeps_its_connections_from_one_job_to_the_next(
    pools_made, app, engine, purchase_rule, run_jobs, icontact
):
    for n in range(3):
        purchase(engine, f"pool{n}@example.com")
        run_jobs()
    assert len(icontact.contacts(USERNAME)) == 3
    assert len(pools_made) == 1  # the one that checked the credentials at connect, too


def test_a_forked_process_makes_connections_of_its_own(pools_made, app, integration, monkeypatch):
    with app.app_context():
        first = client_for(context(), db_session().get(Integration, integration.id)).http
        monkeypatch.setattr(os, "getpid", lambda: -1)
        forked = client_for(context(), db_session().get(Integration, integration.id)).http
    assert forked is not first
    assert pools_made == [first, forked]  # the first also checked the credentials at connect


def test_a_changed_api_address_gets_a_pool_of_its_own(pools_made, app, integration):
    with app.app_context():
        first = client_for(context(), db_session().get(Integration, integration.id)).http
        configure(app, ADDON_ICONTACT_API_URL="https://app.icontact.com/icp")
        assert (
            client_for(context(), db_session().get(Integration, integration.id)).http is not first
        )
    assert len(pools_made) == 2
