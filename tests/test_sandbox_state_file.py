"""The simulator keeps its data in a file when asked (issue 14 §4): a restarted demo still
knows the accounts, lists, contacts and subscriptions its database refers to."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from addon.sandbox import SandboxState, StateFileError, create_sandbox_app, storage
from tests.test_sandbox import APP_ID, APP_PASSWORD, HEADERS, USERNAME, Api

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def path(tmp_path):
    return tmp_path / "sandbox-state.json"


def api_for(state):
    account = state.accounts[USERNAME]
    return Api(create_sandbox_app(state).test_client(), account, dict(HEADERS))


def test_in_memory_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    state = SandboxState()
    state.register(USERNAME, APP_ID, APP_PASSWORD, ["Buyers"])
    api_for(state).contact("a@example.com")
    assert state.path is None and list(tmp_path.iterdir()) == []


def test_everything_survives_a_restart(path):
    first = SandboxState(path=path)
    first.register(USERNAME, APP_ID, APP_PASSWORD, ["Buyers", "VIP"])
    api = api_for(first)
    buyers = first.lists(USERNAME)[0]["listId"]
    ann, bob = api.contact("ann@example.com", firstName="Ann"), api.contact("bob@example.com")
    api.subscribe(ann, buyers)
    api.subscribe(bob, buyers)
    client = api.client
    client.post("/icp/_sandbox/unsubscribe", json={"list_id": buyers, "contact_id": bob})
    client.post("/icp/_sandbox/contact-status", json={"contact_id": bob, "status": "donotcontact"})
    api.subscribe(bob, buyers)  # refused: logged in the consent log

    second = SandboxState(path=path)
    again = api_for(second)  # the same App ID and password still authenticate
    assert again.get("/lists").json["total"] == 2
    assert second.subscribers(buyers) == {
        "ann@example.com": "normal",
        "bob@example.com": "unsubscribed",
    }
    assert again.get(f"/contacts/{ann}").json["contact"]["firstName"] == "Ann"
    assert again.get("/contacts?email=bob@example.com&status=total").json["total"] == 1
    assert second.accounts[USERNAME].subscriptions[(buyers, bob)]["unsubscribedBy"] == "person"
    assert len(second.consent.refusals) == 1
    fresh_id = again.contact("new@example.com")
    assert int(fresh_id) > max(int(ann), int(bob))
    assert again.post("/lists", [{"name": "New"}]).json["lists"][0]["listId"] not in {
        r["listId"] for r in first.lists(USERNAME)
    }


def test_the_folder_of_the_file_is_made_when_missing(tmp_path):
    path = tmp_path / "instance" / "sandbox.json"
    state = SandboxState(path=path)
    state.register(USERNAME, APP_ID, APP_PASSWORD, ["Buyers"])
    assert json.loads(path.read_text())["accounts"][0]["username"] == USERNAME


def test_every_write_request_is_saved_at_once(path):
    state = SandboxState(path=path)
    state.register(USERNAME, APP_ID, APP_PASSWORD, ["Buyers"])
    api = api_for(state)
    api.contact("ann@example.com")
    saved = json.loads(path.read_text())
    (account,) = saved["accounts"]
    assert [c["email"] for c in account["contacts"]] == ["ann@example.com"]
    api.get("/contacts")  # reads do not write
    api.client.post(
        "/icp/core/externallogin",
        data={"username": "new", "password": "pw", "appId": "app", "apiPassword": "api"},
    )
    assert [a["username"] for a in json.loads(path.read_text())["accounts"]] == [USERNAME, "new"]


def test_the_file_is_replaced_whole_or_not_at_all(path, monkeypatch):
    state = SandboxState(path=path)
    state.register(USERNAME, APP_ID, APP_PASSWORD, ["Buyers"])
    before = path.read_text()

    def broken_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(storage.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        state.save()
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_a_failed_save_does_not_fail_the_request(path, monkeypatch, caplog):
    state = SandboxState(path=path)
    state.register(USERNAME, APP_ID, APP_PASSWORD, ["Buyers"])
    api = api_for(state)

    def broken_save(state, path):
        raise OSError("read-only file system")

    monkeypatch.setattr(storage, "save", broken_save)
    response = api.post("/contacts", [{"email": "ann@example.com"}])
    assert response.status_code == 200 and response.json["contacts"]
    assert "cannot save" in caplog.text and "read-only file system" in caplog.text


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("hello", "not JSON"),
        ('{"accounts": []}', "not an iContact simulator state file"),
        ('{"format": "icontact-sandbox-state", "version": 99}', "state format 99"),
        ('{"format": "icontact-sandbox-state", "version": 1, "accounts": [{}]}', "damaged"),
    ],
)
def test_a_file_that_is_not_our_state_is_refused_and_left_alone(path, content, reason):
    path.write_text(content)
    with pytest.raises(StateFileError, match=reason):
        SandboxState(path=path)
    assert path.read_text() == content


def test_a_subscription_to_an_unknown_list_makes_the_file_damaged(path):
    state = SandboxState(path=path)
    state.register(USERNAME, APP_ID, APP_PASSWORD, ["Buyers"])
    api = api_for(state)
    api.subscribe(api.contact("ann@example.com"), state.lists(USERNAME)[0]["listId"])
    data = json.loads(path.read_text())
    data["accounts"][0]["lists"] = []
    path.write_text(json.dumps(data))
    with pytest.raises(StateFileError, match="unknown list or contact"):
        SandboxState(path=path)


def test_reset_empties_the_file(path):
    state = SandboxState(path=path)
    state.register(USERNAME, APP_ID, APP_PASSWORD, ["Buyers"])
    assert api_for(state).client.post("/icp/_sandbox/reset").status_code == 200
    assert json.loads(path.read_text())["accounts"] == []
    state.register(USERNAME, APP_ID, APP_PASSWORD, ["Buyers"])
    fresh = SandboxState(path=path, fresh=True)
    assert fresh.accounts == {} and json.loads(path.read_text())["accounts"] == []


def start_cli(*options):
    command = [sys.executable, "-m", "addon.sandbox", "--port", "0", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    return process, process.stdout.readline().strip()


def stop(process):
    process.terminate()
    process.wait(timeout=10)


def folder_root(base_url):
    accounts = requests.get(f"{base_url}/a/", headers=HEADERS, timeout=5).json()
    aid = accounts["accounts"][0]["accountId"]
    folders = requests.get(f"{base_url}/a/{aid}/c/", headers=HEADERS, timeout=5).json()
    return f"{base_url}/a/{aid}/c/{folders['clientfolders'][0]['clientFolderId']}"


def test_the_command_line_keeps_state_across_restarts(path):
    account = ["--app-id", APP_ID, "--username", USERNAME, "--password", APP_PASSWORD]
    process, base_url = start_cli("--state", str(path), *account, "--lists", "Buyers")
    try:
        created = requests.post(
            f"{folder_root(base_url)}/contacts",
            json=[{"email": "kept@example.com"}],
            headers=HEADERS,
            timeout=5,
        )
        assert created.status_code == 200
    finally:
        stop(process)

    process, base_url = start_cli("--state", str(path), *account, "--lists", "Buyers")
    try:
        found = requests.get(
            f"{folder_root(base_url)}/contacts",
            params={"email": "kept@example.com", "status": "total"},
            headers=HEADERS,
            timeout=5,
        ).json()
        assert found["total"] == 1
        assert len(json.loads(path.read_text())["accounts"][0]["lists"]) == 1
    finally:
        stop(process)

    process, base_url = start_cli("--state", str(path), "--reset")
    try:
        assert base_url.startswith("http://127.0.0.1:")
        assert json.loads(path.read_text())["accounts"] == []
    finally:
        stop(process)


def test_the_command_line_refuses_a_file_that_is_not_state(path):
    path.write_text("my notes")
    result = subprocess.run(
        [sys.executable, "-m", "addon.sandbox", "--state", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert result.returncode == 2
    assert "is not JSON" in result.stderr and str(path) in result.stderr
    assert path.read_text() == "my notes"
    result = subprocess.run(
        [sys.executable, "-m", "addon.sandbox", "--reset"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert result.returncode == 2 and "--reset needs --state" in result.stderr
