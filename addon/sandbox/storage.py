"""Keeping the simulator's data in a JSON file, so a restarted demo finds its accounts again.

The file holds accounts (with their passwords: it is a local test double, and the file is
created readable by its owner only), lists, contacts, subscriptions, the id counters and the
consent log. Fault knobs and call counters are not kept: they belong to one run. Every save
writes a temporary file beside the target and renames it over the target (``os.replace``), so
a crash mid-write leaves the previous file whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .accounts import Account
from .consent import ConsentLog

if TYPE_CHECKING:
    from .state import SandboxState

#: Marks a file as ours, so a wrong ``--state`` path is refused rather than overwritten.
FORMAT = "icontact-sandbox-state"
VERSION = 1


class StateFileError(ValueError):
    """The state file exists but is not one this simulator wrote (or it is damaged)."""


def snapshot(state: SandboxState) -> dict:
    """Everything worth keeping across a restart, JSON-ready."""
    with state.lock:
        return {
            "format": FORMAT,
            "version": VERSION,
            "nextIds": dict(state.id_counters()),
            "accounts": [_account_data(account) for account in state.accounts.values()],
            "consent": state.consent.as_dict(),
        }


def _account_data(account: Account) -> dict:
    return {
        "username": account.username,
        "accountId": account.account_id,
        "clientFolderId": account.client_folder_id,
        "loginPassword": account.login_password,
        "appPasswords": dict(account.app_passwords),
        "lists": [dict(record) for record in account.lists.values()],
        "contacts": [dict(record) for record in account.contacts.values()],
        "subscriptions": [dict(record) for record in account.subscriptions.values()],
    }


def save(state: SandboxState, path: Path) -> None:
    """Write the state to ``path`` atomically.

    Raises:
        OSError: if the directory is not writable or the disk is full (the old file stays).
    """
    text = json.dumps(snapshot(state), indent=1)
    # The demo starts the simulator before its app has made the folder both files live in.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def load(state: SandboxState, path: Path) -> bool:
    """Replace the state's accounts, ids and consent log by the file's; nothing if it is absent.

    Returns:
        Whether a file was read.

    Raises:
        StateFileError: if the file is not a state file this simulator can read; the state is
            then left as it was.
        OSError: if the file exists but cannot be read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    try:
        data = json.loads(text)
    except ValueError as error:
        raise StateFileError(f"{path} is not JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StateFileError(f"{path} is not an iContact simulator state file")
    if data.get("version") != VERSION:
        found = data.get("version")
        raise StateFileError(f"{path} is state format {found!r}; this simulator reads {VERSION}")
    try:
        accounts = [_account_from(item) for item in data["accounts"]]
        consent = ConsentLog(
            overrides=[dict(e) for e in data["consent"]["overrides"]],
            refusals=[dict(e) for e in data["consent"]["refusals"]],
        )
        counters = _counters(accounts, data["nextIds"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise StateFileError(f"{path} is damaged ({type(error).__name__}: {error})") from None
    state.restore(accounts, counters, consent)
    return True


def _counters(accounts: list[Account], saved: dict) -> dict[str, int]:
    # Never hand out an id the file already uses, even if its counters are stale.
    used = {
        "account": [a.account_id for a in accounts],
        "clientfolder": [a.client_folder_id for a in accounts],
        "list": [i for a in accounts for i in a.lists],
        "contact": [i for a in accounts for i in a.contacts],
    }
    counters = {}
    for kind, ids in used.items():
        numbers = [int(i) + 1 for i in ids if i.isascii() and i.isdigit()]
        counters[kind] = max([int(saved.get(kind, 0)), *numbers])
    return counters


def _account_from(item: dict) -> Account:
    account = Account(
        username=_text(item["username"]),
        account_id=_text(item["accountId"]),
        client_folder_id=_text(item["clientFolderId"]),
        login_password=_text(item["loginPassword"]),
        app_passwords={_text(k): _text(v) for k, v in item["appPasswords"].items()},
    )
    for record in item["lists"]:
        account.lists[_text(record["listId"])] = dict(record)
    for record in item["contacts"]:
        contact_id = _text(record["contactId"])
        account.contacts[contact_id] = dict(record)
        account.emails[_text(record["email"]).lower()] = contact_id
    for record in item["subscriptions"]:
        key = (_text(record["listId"]), _text(record["contactId"]))
        if key[0] not in account.lists or key[1] not in account.contacts:
            raise ValueError(f"subscription {key[0]}_{key[1]} names an unknown list or contact")
        account.subscriptions[key] = dict(record)
    return account


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value
