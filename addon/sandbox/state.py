"""The simulator's data: accounts, their lists, contacts and subscriptions, held in memory and,
when given a path, kept in a JSON file (see :mod:`.storage`)."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import messages, storage
from .consent import ConsentLog
from .records import local_now
from .traffic import WINDOW_SECONDS, Faults, TrafficStats

_log = logging.getLogger(__name__)

#: Key of the state in ``app.extensions``.
EXTENSION_KEY = "icontact_sandbox"

# First ids handed out; near the recorded ones so they look like the real service's.
_FIRST_IDS = {
    "account": 413323,
    "clientfolder": 124667,
    "list": 205303,
    "contact": 66674160,
}


@dataclass
class Account:
    """One iContact account with its single client folder and everything stored in it.

    ``app_passwords`` maps each enabled App ID to the application password chosen for it.
    Lists, contacts and subscriptions are keyed by their (string) ids; subscriptions by
    ``(listId, contactId)``. ``emails`` indexes contacts by lower-cased email.
    """

    username: str
    account_id: str
    client_folder_id: str
    login_password: str
    app_passwords: dict[str, str] = field(default_factory=dict)
    lists: dict[str, dict] = field(default_factory=dict)
    contacts: dict[str, dict] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    subscriptions: dict[tuple[str, str], dict] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """Ids and enabled App IDs, without any password."""
        return {
            "username": self.username,
            "accountId": self.account_id,
            "clientFolderId": self.client_folder_id,
            "appIds": sorted(self.app_passwords),
        }


class SandboxState:
    """All simulator data plus fault knobs and call counters, shared by every request thread.

    Every method takes ``lock`` (re-entrant), so callers that need several steps to be
    atomic may hold it around them too.

    Args:
        seed: seeds ``rng``, which draws the random 500/503 faults reproducibly.
        clock: monotonic seconds used by the throttle window (injectable for tests).
        path: a JSON state file: read now if it exists, rewritten after every change (the app
            saves after each write request; :meth:`save` does it by hand). ``None`` (the
            default, and what tests use) keeps everything in memory only.
        now: the wall clock for ``createDate``, ``addDate`` and the consent log: an aware
            datetime (injectable, so a test can make contacts "older").
        fresh: with ``path``, ignore what the file holds and empty it now (a reset).

    Raises:
        storage.StateFileError: if ``path`` exists but is not a state file this simulator
            wrote; the file is left untouched.
        OSError: if the file cannot be read (or, with ``fresh``, written).
    """

    def __init__(
        self,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        *,
        path: str | os.PathLike[str] | None = None,
        now: Callable[[], datetime] = local_now,
        fresh: bool = False,
    ) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.clock = clock
        self.now = now
        self.path: Path | None = None
        self.reset()
        if path is not None:
            if not fresh:
                storage.load(self, Path(path))
            self.path = Path(path)
            if fresh:
                self.save()

    def reset(self) -> None:
        """Forget every account, record, fault knob and counter (and empty the state file)."""
        with self.lock:
            self.accounts: dict[str, Account] = {}
            self.faults = Faults()
            self.stats = TrafficStats()
            self.consent = ConsentLog()
            self.rng = random.Random(self.seed)
            self._next_ids = dict(_FIRST_IDS)
            self.autosave()

    def save(self) -> None:
        """Write the state file now (nothing without a path).

        Raises:
            OSError: if it cannot be written; the previous file stays whole.
        """
        if self.path is not None:
            with self.lock:
                storage.save(self, self.path)

    def autosave(self) -> None:
        """Save after a change; a failure is logged, not raised: memory stays right, and the
        request that made the change must not fail for it."""
        try:
            self.save()
        except OSError as error:
            _log.error("iContact simulator: cannot save %s: %s", self.path, error)

    def restore(
        self, accounts: list[Account], counters: dict[str, int], consent: ConsentLog
    ) -> None:
        """Take accounts, id counters and the consent log read from a state file."""
        with self.lock:
            self.accounts = {account.username: account for account in accounts}
            self.consent = consent
            self._next_ids = {
                kind: max(first, counters.get(kind, first)) for kind, first in _FIRST_IDS.items()
            }

    def id_counters(self) -> dict[str, int]:
        """The next id of each kind (what the state file keeps)."""
        with self.lock:
            return dict(self._next_ids)

    def next_id(self, kind: str) -> str:
        """A fresh numeric-string id for ``kind`` (account, clientfolder, list, contact)."""
        with self.lock:
            value = self._next_ids[kind]
            self._next_ids[kind] = value + 1
            return str(value)

    # -- accounts and credentials -------------------------------------------------------

    def register(
        self,
        username: str,
        app_id: str,
        app_password: str,
        lists: Iterable[str] = (),
        *,
        login_password: str | None = None,
    ) -> Account:
        """Create (or reuse) the account ``username`` and enable ``app_id`` on it.

        Args:
            username: the iContact login, sent later as ``API-Username``.
            app_id: the App ID to enable; ``app_password`` becomes its ``API-Password``.
            lists: names of lists to create unless the account already has one of that name.
            login_password: the web login password (externallogin); defaults to
                ``app_password`` for accounts created here.

        Returns:
            The live account object (read it, don't mutate it outside ``lock``).
        """
        with self.lock:
            account = self.accounts.get(username)
            if account is None:
                account = Account(
                    username=username,
                    account_id=self.next_id("account"),
                    client_folder_id=self.next_id("clientfolder"),
                    login_password=app_password if login_password is None else login_password,
                )
                self.accounts[username] = account
            account.app_passwords[app_id] = app_password
            existing = {record["name"] for record in account.lists.values()}
            for name in lists:
                if name not in existing:
                    self.add_list(account, {"name": name})
                    existing.add(name)
            self.autosave()
            return account

    def authenticate(self, username: str, app_id: str, password: str) -> tuple[Account | None, str]:
        """Check API credentials; returns ``(account, "")`` or ``(None, error text)``."""
        with self.lock:
            account = self.accounts.get(username)
            if account is None:
                return None, messages.BAD_USERNAME
            if app_id not in account.app_passwords:
                return None, messages.APP_NOT_ENABLED
            if account.app_passwords[app_id] != password:
                return None, messages.BAD_PASSWORD
            return account, ""

    def change_password(
        self, username: str, new_app_password: str, app_id: str | None = None
    ) -> None:
        """Give the account's App IDs (or just ``app_id``) a new application password.

        Raises:
            KeyError: if the account or App ID does not exist.
        """
        with self.lock:
            account = self.accounts[username]
            targets = list(account.app_passwords) if app_id is None else [app_id]
            for target in targets:
                if target not in account.app_passwords:
                    raise KeyError(target)
                account.app_passwords[target] = new_app_password
            self.autosave()

    def account_for_list(self, list_id: str) -> Account | None:
        """The account that owns list ``list_id``, if any."""
        with self.lock:
            for account in self.accounts.values():
                if str(list_id) in account.lists:
                    return account
            return None

    # -- shared record operations --------------------------------------------------------

    def add_list(self, account: Account, values: dict) -> dict:
        """Store a new list (``values`` already checked) and return the stored record."""
        with self.lock:
            record = {
                "listId": self.next_id("list"),
                "name": values["name"],
                "publicname": values.get("publicname", ""),
                "description": values.get("description", ""),
                "emailOwnerOnChange": values.get("emailOwnerOnChange", 1),
                "welcomeOnManualAdd": values.get("welcomeOnManualAdd", 0),
                "welcomeOnSignupAdd": values.get("welcomeOnSignupAdd", 0),
                "welcomeMessageId": values.get("welcomeMessageId", ""),
            }
            account.lists[record["listId"]] = record
            return record

    def delete_list(self, list_id: str | int) -> bool:
        """Delete a list and its subscriptions, as if someone did it in the iContact UI.

        Returns:
            False if no account has that list.
        """
        with self.lock:
            account = self.account_for_list(str(list_id))
            if account is None:
                return False
            del account.lists[str(list_id)]
            for key in [key for key in account.subscriptions if key[0] == str(list_id)]:
                del account.subscriptions[key]
            self.autosave()
            return True

    # -- throttle and faults ---------------------------------------------------------------

    def admit_call(self, username: str) -> tuple[int, str] | None:
        """Count one API call; returns ``(status, error text)`` when it must be refused."""
        with self.lock:
            traffic = self.stats.for_account(username)
            in_window = traffic.record(self.clock(), WINDOW_SECONDS / self.faults.time_scale)
            limit = self.faults.calls_per_minute
            if limit is not None and in_window > limit:
                traffic.throttled += 1
                return 503, messages.THROTTLED.format(limit=limit)
            rate_500, rate_503 = self.faults.error_500_rate, self.faults.error_503_rate
            if rate_500 or rate_503:
                draw = self.rng.random()
                if draw < rate_500:
                    traffic.injected_errors += 1
                    return 500, messages.INTERNAL_ERROR
                if draw < rate_500 + rate_503:
                    traffic.injected_errors += 1
                    return 503, messages.UNAVAILABLE
            return None

    # -- read helpers for tests and pages ----------------------------------------------------

    def lists(self, username: str) -> list[dict]:
        """Copies of the account's lists in creation order.

        Raises:
            KeyError: if there is no such account.
        """
        with self.lock:
            return [dict(record) for record in self.accounts[username].lists.values()]

    def subscribers(self, list_id: str | int) -> dict[str, str]:
        """``{email: subscription status}`` for every contact subscribed to ``list_id``."""
        with self.lock:
            account = self.account_for_list(str(list_id))
            if account is None:
                return {}
            return {
                account.contacts[contact_id]["email"]: sub["status"]
                for (sub_list, contact_id), sub in account.subscriptions.items()
                if sub_list == str(list_id)
            }

    def contacts(self, username: str) -> list[dict]:
        """Copies of the account's contacts (unset fields are ``None``).

        Raises:
            KeyError: if there is no such account.
        """
        with self.lock:
            return [dict(record) for record in self.accounts[username].contacts.values()]

    def dump(self) -> dict[str, object]:
        """Everything (but passwords) as one JSON-ready dict."""
        with self.lock:
            return {
                "accounts": [account.summary() for account in self.accounts.values()],
                "lists": {
                    name: [dict(r) for r in account.lists.values()]
                    for name, account in self.accounts.items()
                },
                "contacts": {
                    name: [dict(r) for r in account.contacts.values()]
                    for name, account in self.accounts.items()
                },
                "subscriptions": {
                    name: [dict(r) for r in account.subscriptions.values()]
                    for name, account in self.accounts.items()
                },
                "consent": self.consent.as_dict(),
                "faults": self.faults.as_dict(),
                "stats": self.stats.as_dict(),
            }
