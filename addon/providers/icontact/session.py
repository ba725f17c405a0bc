"""The iContact API's transport: one authenticated call (:class:`ApiSession`), the mapping of
its answers to the provider errors, and the connection pool clients share.

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
    ProviderError,
    RejectedCredentials,
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


def message(body: Any, default: str) -> str:
    if isinstance(body, dict):
        for key in ("errors", "warnings"):
            texts = body.get(key)
            if texts:
                return " ".join(str(t) for t in texts)
    return default


class ApiSession:
    """Authenticated calls to one merchant's iContact account, each kept in ``transcript``.

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
                + message(body, f"HTTP {status}")
                + ")"
            )
        if status == 404:
            raise NotFound(message(body, "Not found in iContact"))
        if status in _TEMPORARY or status >= 500:
            if status == 503 and self.throttle is not None:
                self.throttle.slow_down()
            retry_after = response.headers.get("Retry-After")
            raise TemporaryFailure(
                f"iContact answered {status}: {message(body, 'temporarily unavailable')}",
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        if status >= 400:
            raise InvalidData(message(body, f"iContact refused the request (HTTP {status})"))
        if 300 <= status < 400:
            raise InvalidData(
                f"iContact answered HTTP {status}, a redirect to "
                f"{response.headers.get('Location') or 'elsewhere'}: check the API address "
                f"({self.base_url})"
            )
        if not isinstance(body, dict | list):
            raise TemporaryFailure(f"iContact sent an unreadable answer (HTTP {status})")
        return body


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
