"""Email-marketing providers the engine can talk to.

A second provider adds a module with a client and two action functions, plus an entry here
(and a wizard template); the engine itself names no provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import urllib3

from .base import (
    InvalidData,
    NotFound,
    Outcome,
    ProviderError,
    RejectedCredentials,
    RemoteList,
    TemporaryFailure,
    Throttle,
)
from .icontact import batch as icontact_batch
from .icontact import client as icontact
from .icontact.batch import Action, BatchResult


@dataclass(frozen=True)
class Provider:
    name: str
    title: str
    #: Builds a client from the app config, the credentials and the known account ids.
    make_client: Callable[..., Any]
    #: Applies a batch of :class:`Action` for one account: ``(client, actions, known ids,
    #: lookup_threads=...) -> BatchResult``.
    apply_actions: Callable[..., BatchResult]
    #: Builds the connection pool that clients share (``http=`` of ``make_client``) from the
    #: app config: ``config -> pool``.
    make_http: Callable[[Mapping[str, Any]], Any]
    #: The config keys ``make_http`` reads: a pool is kept for each combination of them.
    http_settings: tuple[str, ...] = ()


def _icontact_client(
    config: Mapping[str, Any],
    username: str,
    password: str,
    account_id: str | None = None,
    client_folder_id: str | None = None,
    http: urllib3.PoolManager | None = None,
    throttle: Throttle | None = None,
) -> icontact.IContactClient:
    return icontact.IContactClient(
        config["ADDON_ICONTACT_API_URL"],
        config["ADDON_ICONTACT_APP_ID"],
        username,
        password,
        account_id=account_id,
        client_folder_id=client_folder_id,
        timeout=config["ADDON_ICONTACT_TIMEOUT"],
        http=http or _icontact_http(config),
        throttle=throttle,
    )


def _icontact_http(config: Mapping[str, Any]) -> urllib3.PoolManager:
    # A connection for every lookup in flight, or urllib3 discards (and warns about) the rest.
    return icontact.api_pool(
        config["ADDON_ICONTACT_API_URL"], pool_size=int(config["ADDON_ICONTACT_CONCURRENCY"])
    )


PROVIDERS: dict[str, Provider] = {
    "icontact": Provider(
        "icontact",
        "iContact",
        _icontact_client,
        icontact_batch.apply_actions,
        _icontact_http,
        ("ADDON_ICONTACT_API_URL", "ADDON_ICONTACT_CONCURRENCY"),
    ),
}


def get_provider(name: str) -> Provider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise ProviderError(f"Unknown provider {name!r}") from None


__all__ = [
    "PROVIDERS",
    "Action",
    "BatchResult",
    "Throttle",
    "InvalidData",
    "NotFound",
    "Outcome",
    "Provider",
    "ProviderError",
    "RejectedCredentials",
    "RemoteList",
    "TemporaryFailure",
    "get_provider",
]
