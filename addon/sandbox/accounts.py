"""The simulator's accounts: their credentials, ids, lists, and the read-outs that tests and
the pages use. :class:`.state.SandboxState` is built on :class:`Accounts` and adds the faults,
the traffic counters and the state file."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import messages

#: First ids handed out; near the recorded ones so they look like the real service's.
FIRST_IDS = {
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


class Accounts:
    """Every account by username, and the ids handed out so far.

    Every method takes ``lock`` (re-entrant), so callers that need several steps to be
    atomic may hold it around them too. A change ends with :meth:`autosave`.
    """

    lock: threading.RLock
    accounts: dict[str, Account]
    _next_ids: dict[str, int]

    def autosave(self) -> None:
        """Keep a change (the state file, where there is one)."""

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

    # -- lists --------------------------------------------------------------------------

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

    # -- read-outs for tests and pages ------------------------------------------------------

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
