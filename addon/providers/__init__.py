"""Email-marketing providers the engine can talk to, and the registry it finds them in.

The engine names no provider: it looks one up here by an integration's ``provider`` name and
uses only the :class:`Provider` contract. A second provider is one new package that builds a
:class:`Provider` and hands it to :func:`register`: its credentials and setup steps give it a
connect form, and nothing in ``addon/engine/`` or ``addon/web/`` changes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .base import (
    DEFAULT_CREDENTIALS,
    MEMBER,
    OPTED_OUT,
    Action,
    BatchResult,
    ContactsPage,
    CredentialField,
    InvalidData,
    Membership,
    NotFound,
    Outcome,
    PlannedCall,
    ProviderError,
    RejectedCredentials,
    RemoteList,
    SetupStep,
    TemporaryFailure,
    Throttle,
)

if TYPE_CHECKING:
    from ..settings import Settings


class ProviderClient(Protocol):
    """What the engine calls on a provider's client (one account, its credentials)."""

    def discover(self) -> tuple[str, str]:
        """The account's ids ``(account_id, client_folder_id)``; raises RejectedCredentials."""
        ...

    def lists(self) -> list[RemoteList]: ...

    def create_list(self, name: str) -> RemoteList: ...

    def sibling(self) -> ProviderClient:
        """A client of the same account for another thread (its own transcript)."""
        ...


@dataclass(frozen=True)
class Provider:
    """The contract between the engine and one provider.

    Every callable that needs configuration takes the app's typed :class:`~addon.settings.Settings`
    (checked once by ``init_app``); the provider reads its own fields from it, the engine none.
    """

    #: The name integrations store (``Integration.provider``) and the registry's key.
    name: str
    #: How merchants know it, in every message and screen: "iContact".
    display_name: str
    #: ``(settings, username, password, *, account_id=None, client_folder_id=None, http=None,
    #: throttle=None) -> ProviderClient``.
    make_client: Callable[..., ProviderClient]
    #: Applies a batch of :class:`Action` for one account:
    #: ``(client, actions, known contact ids, lookup_threads=...) -> BatchResult``.
    apply_actions: Callable[..., BatchResult]
    #: The connection pool its clients share (``http=`` of ``make_client``): ``settings -> pool``.
    make_http: Callable[[Settings], Any]
    #: What ``make_http`` reads: one pool is kept per distinct key.
    http_key: Callable[[Settings], Hashable]
    #: How it wants to be paced: API calls a minute per account, shared by every worker.
    calls_per_minute: Callable[[Settings], int]
    #: How many lookups of one batch may run at once.
    lookup_threads: Callable[[Settings], int]
    #: Its words when it refuses credentials at connect time (what to check, where).
    rejected_on_connect: Callable[[Settings], str]
    #: What the merchant types to connect: a ``username`` and a ``password`` field.
    credentials: tuple[CredentialField, ...] = DEFAULT_CREDENTIALS
    #: The heading of the steps shown before the credentials on the connect form.
    setup_title: str = ""
    #: How to let the add-on in, step by step, before typing the credentials (none: no list).
    setup_steps: Callable[[Settings], Sequence[SetupStep]] = lambda settings: ()
    #: Reads who of some customers is on some lists, for a check against the provider:
    #: ``(client, list_ids, emails) -> Membership``. None: the provider cannot be checked.
    read_members: Callable[..., Membership] | None = None
    #: Whether an add can ask the person to confirm first (double opt-in): a rule offers the
    #: choice only then, and :attr:`Action.double_opt_in` is set only then.
    double_opt_in: bool = False
    #: Calls a batch of one action for many customers takes, for a backfill's preview:
    #: ``(action, customers, of them with a known contact id, claim batch) -> calls``.
    #: None: one call per customer.
    estimate_calls: Callable[[str, int, int, int], int] | None = None
    #: Optional: every contact of the account, page by page: ``(settings, client) ->
    #: Iterator[ContactsPage]``. With it the engine keeps the account's contacts in its cache
    #: (at connect and on a schedule) and hands ``apply_actions`` the sync's mark as
    #: ``since=``: a customer the cache has never seen is then new unless the provider created
    #: them since the mark, which one call per batch tells, instead of one lookup per customer.
    sync_contacts: Callable[[Settings, Any], Iterator[ContactsPage]] | None = None
    #: Describes the calls applying one action would make, making none (a rule's dry run):
    #: ``(account_id, client_folder_id, action, known contact id or None) -> [PlannedCall]``.
    #: None: the provider cannot tell in advance.
    plan_action: Callable[..., list[PlannedCall]] | None = None


#: The providers by name. Use :func:`register` to add one.
PROVIDERS: dict[str, Provider] = {}


def register(provider: Provider) -> Provider:
    """Make ``provider`` available to every engine in this process under ``provider.name``.

    Args:
        provider: the provider; a later registration under the same name replaces it.

    Returns:
        ``provider``, so a module can write ``PROVIDER = register(Provider(...))``.

    Raises:
        TypeError: ``provider`` is not a :class:`Provider`.
        ValueError: its credentials are not one ``username`` and one ``password`` field.
    """
    if not isinstance(provider, Provider):
        raise TypeError(f"register() takes a Provider, not {type(provider).__name__}")
    names = sorted(field.name for field in provider.credentials)
    if names != ["password", "username"]:
        raise ValueError(
            f"{provider.name}: credentials must be one 'username' and one 'password' field, "
            f"not {names}"
        )
    PROVIDERS[provider.name] = provider
    return provider


def get_provider(name: str) -> Provider:
    """The registered provider called ``name``.

    Raises:
        ProviderError: no provider of that name is registered.
    """
    try:
        return PROVIDERS[name]
    except KeyError:
        raise ProviderError(f"Unknown provider {name!r}") from None


# The shipped provider registers itself; imported last, it finds this module complete.
from . import icontact as _icontact  # noqa: E402, F401

__all__ = [
    "MEMBER",
    "OPTED_OUT",
    "PROVIDERS",
    "Action",
    "BatchResult",
    "CredentialField",
    "ContactsPage",
    "InvalidData",
    "Membership",
    "NotFound",
    "Outcome",
    "PlannedCall",
    "Provider",
    "ProviderClient",
    "ProviderError",
    "RejectedCredentials",
    "RemoteList",
    "SetupStep",
    "TemporaryFailure",
    "Throttle",
    "get_provider",
    "register",
]
