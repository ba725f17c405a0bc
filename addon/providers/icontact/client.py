"""The iContact API's resources (v2.2, as recorded in the public sandbox traffic): the account
and its client folder, lists, contacts and subscriptions, on an :class:`ApiSession`.

Imports nothing from Flask: the engine hands it its settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..base import InvalidData, NotFound, RemoteList
from .session import ApiSession, api_pool, message


class IContactClient(ApiSession):
    """One merchant's iContact account (see :class:`ApiSession` for the arguments)."""

    #: Records one collection POST carries (``ADDON_ICONTACT_BATCH_SIZE``, set by the provider).
    records_per_call = 200

    def folder_path(self, suffix: str) -> str:
        """The account's client-folder path ending in ``suffix`` (``/contacts``), discovering
        the account first if its ids are not known yet; part of the client's API for
        :mod:`.batch`, which posts whole chunks and reads the raw answer."""
        if not (self.account_id and self.client_folder_id):
            self.discover()
        return f"/a/{self.account_id}/c/{self.client_folder_id}{suffix}"

    # -- account ---------------------------------------------------------------------------

    def discover(self) -> tuple[str, str]:
        """Find the account and client folder these credentials open (``GET /a/``, ``/c/``)."""
        accounts = self.request("GET", "/a/").get("accounts") or []
        if not accounts:
            raise InvalidData("This iContact login has no account")
        account = accounts[0]
        if str(account.get("enabled")) != "1":
            raise InvalidData("This iContact account is disabled")
        account_id = str(account["accountId"])
        folders = self.request("GET", f"/a/{account_id}/c/").get("clientfolders") or []
        if not folders:
            raise InvalidData("This iContact account has no client folder")
        self.account_id, self.client_folder_id = account_id, str(folders[0]["clientFolderId"])
        return self.account_id, self.client_folder_id

    # -- lists -----------------------------------------------------------------------------

    def lists(self) -> list[RemoteList]:
        """All lists of the client folder, paged through."""
        found: list[RemoteList] = []
        offset, limit = 0, 500
        while True:
            body = self.request(
                "GET", self.folder_path("/lists"), params={"limit": limit, "offset": offset}
            )
            page = body.get("lists") or []
            found += [RemoteList(str(item["listId"]), str(item.get("name") or "")) for item in page]
            offset += len(page)
            if not page or offset >= int(body.get("total") or 0):
                return found

    def create_list(self, name: str) -> RemoteList:
        """Create a list; iContact answers 200 with the new list (or a warning)."""
        body = self.request("POST", self.folder_path("/lists"), json=[{"name": name}])
        created = body.get("lists") or []
        if not created:
            raise InvalidData(message(body, f"iContact did not create the list {name!r}"))
        return RemoteList(str(created[0]["listId"]), str(created[0].get("name") or name))

    # -- contacts and subscriptions ----------------------------------------------------------

    def find_contact(self, email: str) -> dict[str, Any] | None:
        """The contact with this email, on a list or not (``status=total``), or None."""
        body = self.request(
            "GET",
            self.folder_path("/contacts"),
            params={"email": email, "status": "total", "limit": 1},
        )
        contacts = body.get("contacts") or []
        return contacts[0] if contacts else None

    def create_contacts(self, contacts: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Create contacts in one call; a rejected record comes back as a warning.

        Raises:
            InvalidData: when iContact created none of them, with its warnings.
        """
        body = self.request("POST", self.folder_path("/contacts"), json=contacts)
        created = body.get("contacts") or []
        if not created:
            raise InvalidData(message(body, "iContact did not create the contact"))
        return created

    def subscribe(
        self, pairs: list[tuple[str, str]], status: str | list[str] = "normal"
    ) -> dict[str, Any]:
        """Subscribe ``(list_id, contact_id)`` pairs in one call; returns the raw answer.

        Args:
            status: one status for all, or one per pair (``pending`` asks the person to
                confirm first).
        """
        statuses = [status] * len(pairs) if isinstance(status, str) else status
        payload = [
            {"contactId": contact_id, "listId": list_id, "status": each}
            for (list_id, contact_id), each in zip(pairs, statuses, strict=True)
        ]
        return self.request("POST", self.folder_path("/subscriptions"), json=payload)

    def subscription_pages(
        self, status: str, list_id: str | None = None, page: int = 500
    ) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """The subscriptions in ``status`` (to ``list_id``, or to any list), a page at a time
        with the total the server counts (``GET /subscriptions?status=&listId=``).

        The terms are checked again here: a server that ignored one would not make a
        subscription look like another.
        """
        params = {"status": status, **({"listId": list_id} if list_id is not None else {})}
        offset = 0
        while True:
            body = self.request(
                "GET",
                self.folder_path("/subscriptions"),
                params={**params, "limit": page, "offset": offset},
            )
            chunk = body.get("subscriptions") or []
            total = int(body.get("total") or 0)
            yield (
                [
                    s
                    for s in chunk
                    if s.get("status") == status
                    and (list_id is None or str(s.get("listId")) == str(list_id))
                ],
                total,
            )
            offset += len(chunk)
            if not chunk or offset >= total:
                return

    def get_subscription(self, list_id: str, contact_id: str) -> dict[str, Any] | None:
        try:
            body = self.request("GET", self.folder_path(f"/subscriptions/{list_id}_{contact_id}"))
        except NotFound:
            return None
        return body.get("subscription")

    def unsubscribe(self, list_id: str, contact_id: str) -> dict[str, Any]:
        """Set a subscription's status to unsubscribed: iContact has no DELETE for it."""
        body = self.request(
            "POST",
            self.folder_path(f"/subscriptions/{list_id}_{contact_id}"),
            json={"status": "unsubscribed"},
        )
        if body.get("warnings") and not body.get("subscription"):
            raise InvalidData(message(body, "iContact did not unsubscribe the contact"))
        return body

    def sibling(self) -> IContactClient:
        """A client for the same account with its own transcript (one per thread)."""
        twin = IContactClient(
            self.base_url,
            self._headers["API-AppId"],
            self._headers["API-Username"],
            self._headers["API-Password"],
            account_id=self.account_id,
            client_folder_id=self.client_folder_id,
            timeout=self.timeout,
            http=self.http,
            throttle=self.throttle,
        )
        twin.records_per_call = self.records_per_call
        return twin

    def list_exists(self, list_id: str) -> bool:
        try:
            self.request("GET", self.folder_path(f"/lists/{list_id}"))
        except NotFound:
            return False
        return True


__all__ = ["IContactClient", "api_pool"]
