"""A client for the iContact REST API (v2.2), as recorded in the public sandbox traffic.

Imports nothing from Flask: the engine hands it its settings.

Calls go through urllib3, the connection pool under ``requests``, without the layers
``requests.Session`` adds to every call: a batch makes hundreds of contact lookups, and the
worker's CPU per lookup is what limits a batch (see BENCHMARKS.md). The proxy and CA settings
are still read from the environment the way requests reads them.
"""

from __future__ import annotations

import json as jsonlib
import os
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as TransportTimeout

from ..base import (
    InvalidData,
    NotFound,
    Outcome,
    ProviderError,
    RejectedCredentials,
    RemoteList,
    TemporaryFailure,
    Throttle,
)

API_VERSION = "2.2"
# iContact answers these when it is overloaded or down; 503 is also its throttle answer.
_TEMPORARY = {500, 502, 503, 504, 507}
# A transcript keeps this many characters of each answer: enough to explain, not a dump.
_TRANSCRIPT_CHARS = 2000
# As requests does: no second attempt at a call that may have reached iContact (a repeated
# POST could act twice); retrying is the engine's job, with backoff. Redirects are not
# followed: the API does not redirect, and following one would turn a POST into a GET.
_RETRIES = urllib3.Retry(total=0, read=False, redirect=False)


def _message(body: Any, default: str) -> str:
    if isinstance(body, dict):
        for key in ("errors", "warnings"):
            texts = body.get(key)
            if texts:
                return " ".join(str(t) for t in texts)
    return default


class IContactClient:
    """One merchant's iContact account.

    Args:
        base_url: the API root, e.g. ``https://app.icontact.com/icp``.
        app_id: the add-on's registered App ID.
        username: the merchant's iContact username.
        password: the application password the merchant chose for our App ID.
        account_id, client_folder_id: known ids; ``discover()`` finds them when None.
        timeout: ``(connect, read)`` seconds for every call.
        http: a shared connection pool (:func:`api_pool`), so clients reuse connections.
        throttle: waits for the account's call allowance before every call.
    """

    def __init__(
        self,
        base_url: str,
        app_id: str,
        username: str,
        password: str,
        account_id: str | None = None,
        client_folder_id: str | None = None,
        timeout: float | tuple[float, float] = (5.0, 20.0),
        http: urllib3.PoolManager | None = None,
        throttle: Throttle | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.account_id = account_id
        self.client_folder_id = client_folder_id
        self.timeout = timeout
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self._timeout = urllib3.Timeout(connect=connect, read=read)
        self.http = http or api_pool(self.base_url)
        self.throttle = throttle
        self._headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "API-Version": API_VERSION,
            "API-AppId": app_id,
            "API-Username": username,
            "API-Password": password,
        }
        #: Every call made, without credentials, for the log entry's details.
        self.transcript: list[dict[str, Any]] = []

    # -- transport -------------------------------------------------------------------------

    def request(self, method: str, path: str, *, params=None, json=None) -> Any:
        """Make one call and return the decoded body.

        Raises:
            RejectedCredentials: 401/403.
            NotFound: 404.
            InvalidData: 400 and other 4xx, with iContact's own message.
            TemporaryFailure: timeouts, connection errors and 5xx (503 is the throttle).
        """
        url = self.base_url + path
        entry: dict[str, Any] = {"method": method, "path": path}
        if params:
            url += "?" + urlencode(params)
            entry["params"] = dict(params)
        if json is not None:
            entry["request"] = json
        self.transcript.append(entry)
        if self.throttle is not None:
            self.throttle.acquire()
        try:
            response = self.http.request(
                method,
                url,
                body=None if json is None else jsonlib.dumps(json, allow_nan=False),
                headers=self._headers,
                timeout=self._timeout,
                retries=_RETRIES,
            )
        except TransportError as exc:
            # A connect timeout arrives wrapped (MaxRetryError), a read timeout as itself.
            cause = getattr(exc, "reason", None) or exc
            # NewConnectionError subclasses the connect timeout, for old callers' sake.
            if isinstance(cause, TransportTimeout) and not isinstance(cause, NewConnectionError):
                entry["error"] = "timeout"
                raise TemporaryFailure(
                    f"iContact did not answer in time ({cause.__class__.__name__})"
                ) from None
            entry["error"] = "connection failed"
            raise TemporaryFailure(
                f"Could not reach iContact: {cause.__class__.__name__}"
            ) from None
        status = entry["status"] = response.status
        try:
            body = jsonlib.loads(response.data)
        except ValueError:
            body = None
        entry["response"] = (
            body
            if body is not None
            else response.data.decode("utf-8", "replace")[:_TRANSCRIPT_CHARS]
        )
        if status in (401, 403):
            raise RejectedCredentials(
                "iContact rejected the username, application password or App ID ("
                + _message(body, f"HTTP {status}")
                + ")"
            )
        if status == 404:
            raise NotFound(_message(body, "Not found in iContact"))
        if status in _TEMPORARY or status >= 500:
            if status == 503 and self.throttle is not None:
                self.throttle.slow_down()
            retry_after = response.headers.get("Retry-After")
            raise TemporaryFailure(
                f"iContact answered {status}: {_message(body, 'temporarily unavailable')}",
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        if status >= 400:
            raise InvalidData(_message(body, f"iContact refused the request (HTTP {status})"))
        if 300 <= status < 400:
            raise InvalidData(
                f"iContact answered HTTP {status}, a redirect to "
                f"{response.headers.get('Location') or 'elsewhere'}: check the API address "
                f"({self.base_url})"
            )
        if not isinstance(body, dict | list):
            raise TemporaryFailure(f"iContact sent an unreadable answer (HTTP {status})")
        return body

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
            raise InvalidData(_message(body, f"iContact did not create the list {name!r}"))
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
            raise InvalidData(_message(body, "iContact did not create the contact"))
        return created

    def subscribe(self, pairs: list[tuple[str, str]], status: str = "normal") -> dict[str, Any]:
        """Subscribe ``(list_id, contact_id)`` pairs in one call; returns the raw answer."""
        payload = [
            {"contactId": contact_id, "listId": list_id, "status": status}
            for list_id, contact_id in pairs
        ]
        return self.request("POST", self.folder_path("/subscriptions"), json=payload)

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
            raise InvalidData(_message(body, "iContact did not unsubscribe the contact"))
        return body

    def sibling(self) -> IContactClient:
        """A client for the same account with its own transcript (one per thread)."""
        return IContactClient(
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

    def list_exists(self, list_id: str) -> bool:
        try:
            self.request("GET", self.folder_path(f"/lists/{list_id}"))
        except NotFound:
            return False
        return True


def api_pool(base_url: str, pool_size: int = 16) -> urllib3.PoolManager:
    """Connections to the API, through the proxy and with the CA bundle that the environment
    names for ``base_url`` (``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``... as
    requests reads them), read once, when the pool is made.

    Args:
        pool_size: connections kept per host, at least the lookups run in parallel.
    """
    settings = requests.Session().merge_environment_settings(base_url, {}, None, None, None)
    verify = settings["verify"]
    tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"}
    if verify is True:
        tls["ca_certs"] = requests.certs.where()
    elif os.path.isdir(verify):
        tls["ca_cert_dir"] = verify
    else:
        tls["ca_certs"] = verify
    options = {"num_pools": 4, "maxsize": pool_size, "block": False, **tls}
    proxy = requests.utils.select_proxy(base_url, settings["proxies"])
    if not proxy:
        return urllib3.PoolManager(**options)
    if not proxy.startswith(("http://", "https://")):
        raise ProviderError(f"Unsupported proxy for the iContact API: {proxy}")
    auth = urllib3.util.parse_url(proxy).auth
    headers = urllib3.make_headers(proxy_basic_auth=auth) if auth else None
    return urllib3.ProxyManager(proxy, proxy_headers=headers, **options)


def contact_record(customer: dict[str, str]) -> dict[str, str]:
    """The iContact contact fields for a customer; blanks left out so nothing is overwritten."""
    record = {
        "email": customer["email"],
        "firstName": customer.get("first_name") or "",
        "lastName": customer.get("last_name") or "",
        "phone": customer.get("phone") or "",
    }
    return {key: value for key, value in record.items() if value}


def remove_subscriber(
    client: IContactClient, email: str, list_id: str, contact_id: str | None = None
) -> Outcome:
    """Unsubscribe the contact from the list; absent contact or subscription is skipped.

    Args:
        contact_id: the contact's id when the caller has it cached; it is checked (a stale
            id falls back to a lookup by email).
    """
    subscription: dict[str, Any] | None = None
    if contact_id is not None:
        subscription = client.get_subscription(list_id, contact_id)
    if subscription is None:
        contact = client.find_contact(email)
        if contact is None:
            return Outcome("skipped", "skipped: no iContact contact has this email")
        contact_id = str(contact["contactId"])
        subscription = client.get_subscription(list_id, contact_id)
    assert contact_id is not None  # set by the lookup above
    detail = {"contactId": contact_id}
    if subscription is None:
        if not client.list_exists(list_id):
            raise NotFound("The list no longer exists in iContact")
        return Outcome("skipped", "skipped: the contact is not on this list", detail)
    if subscription.get("status") == "unsubscribed":
        return Outcome(
            "skipped", "skipped: the contact was already unsubscribed from this list", detail
        )
    client.unsubscribe(list_id, contact_id)
    return Outcome("success", f"Unsubscribed contact {contact_id} from list {list_id}", detail)


__all__ = [
    "IContactClient",
    "ProviderError",
    "remove_subscriber",
    "contact_record",
]
