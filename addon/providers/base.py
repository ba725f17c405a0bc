"""What every email-marketing provider client raises and returns; imports nothing from Flask."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol


class ProviderError(Exception):
    """A provider call failed; the message is fit to show a merchant."""


class RejectedCredentials(ProviderError):
    """The provider refused the username, password or App ID (401/403)."""


class NotFound(ProviderError):
    """The resource (a list, a contact, a subscription) does not exist at the provider."""


class InvalidData(ProviderError):
    """The provider rejected what was sent; the message is the provider's own."""


class TemporaryFailure(ProviderError):
    """Worth retrying: a timeout, a connection error, a 5xx or a throttle answer."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Throttle(Protocol):
    """Paces calls to one provider account."""

    def acquire(self) -> None: ...

    def reserve(self, calls: int) -> None: ...

    def slow_down(self) -> None: ...


@dataclass(frozen=True)
class CredentialField:
    """One credential a merchant types to let the add-on into their account.

    The connect and edit forms are built from these (``addon.web.forms.integration_form``).
    """

    #: ``username`` or ``password``: which credential of ``make_client`` it fills.
    name: str
    #: The field's label: "iContact username".
    label: str
    #: ``text``, or ``password`` (never shown again; on Edit, blank keeps the stored one).
    kind: str = "text"
    #: One line under the field: where to find it, what it is not.
    help: str = ""
    #: The error shown when it is left empty.
    missing: str = "Fill in this field."


@dataclass(frozen=True)
class SetupStep:
    """One step of the connect form's "how to let us in" list.

    Reads ``text``, then the ``link`` (words, address) if any, then ``copy`` (a value to copy,
    such as an App ID, with a Copy button named after ``copy_name``) if any, then ``after``.
    """

    text: str
    link: tuple[str, str] | None = None
    copy: str = ""
    copy_name: str = "the value"
    after: str = ""


#: What a provider that declares nothing asks for.
DEFAULT_CREDENTIALS = (
    CredentialField("username", "Username", missing="Enter your username."),
    CredentialField("password", "Password", "password", missing="Enter your password."),
)


@dataclass(frozen=True)
class RemoteList:
    """A list of the provider account: ``id`` is the provider's, what ``add_rule`` takes.

    The engine's public records hand it back as is (``addon.results.MailingList``).
    """

    id: str
    name: str


@dataclass(frozen=True)
class PlannedCall:
    """One call a provider would make for an action, described without making it (a rule's
    dry run); the merchant reads ``purpose``, ``condition`` and ``skipped``."""

    method: str
    path: str
    #: What the call is for, in the merchant's words.
    purpose: str
    params: dict[str, Any] | None = None
    #: The JSON body it would send (None: none).
    body: Any = None
    #: Made only in some cases: "only if the lookup finds no contact".
    condition: str | None = None
    #: Why it would not be made at all (None: it would be).
    skipped: str | None = None

    def but(self, **changes: Any) -> PlannedCall:
        """The same call with some of its fields changed."""
        return replace(self, **changes)


@dataclass
class Outcome:
    """What applying one action did: ``status`` is ``success`` or ``skipped``."""

    status: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Action:
    key: Hashable
    action: str  # "add" | "remove"
    customer: dict[str, str]
    list_id: str
    #: The list's name, for the words of the outcome.
    list_name: str = ""
    #: The engine itself took this customer off this list (its consent memory): an add may
    #: put them back, where a provider's "unsubscribed" alone would mean the person left.
    removed_by_engine: bool = False
    #: The rule asks the person to confirm (double opt-in), where the provider supports it.
    double_opt_in: bool = False

    @property
    def email_key(self) -> str:
        return self.customer["email"].lower()


#: A customer's standing on a list, as :class:`Membership` reports it: on the list (subscribed,
#: or waiting to confirm), or opted out (unsubscribed themselves, or asked not to be contacted).
#: A customer not on the list at all is absent from it.
MEMBER, OPTED_OUT = "member", "opted_out"


@dataclass
class Membership:
    """What the provider holds for some customers on some lists.

    ``lists`` maps each list id to ``{email_key: MEMBER | OPTED_OUT}``; ``calls`` is how
    many API calls reading it took.
    """

    lists: dict[str, dict[str, str]] = field(default_factory=dict)
    calls: int = 0


@dataclass
class BatchResult:
    """Per-action outcomes (an ``Outcome`` or the ``ProviderError`` it failed with), plus what
    was learned about contact ids, for the caller's cache."""

    outcomes: dict[Hashable, Outcome | ProviderError] = field(default_factory=dict)
    learned: dict[str, str] = field(default_factory=dict)
    forgotten: set[str] = field(default_factory=set)
    calls: list[dict[str, Any]] = field(default_factory=list)
    #: Per action, the calls made for it (shared ones summarised), for its log entry.
    details: dict[Hashable, list[dict[str, Any]]] = field(default_factory=dict)
    #: The newest creation mark the batch's check for new contacts saw (``since=`` of the
    #: next batch), or None when it made no such check.
    mark: str | None = None
    #: False when the provider ignored the check for new contacts (it answers that search
    #: with a warning): the caller goes back to looking each unknown customer up.
    searchable: bool = True


@dataclass
class ContactsPage:
    """One page of a provider account's contacts, read by a contact sync.

    ``mark`` is the provider's own creation stamp of the newest contact read so far (its
    clock, not ours): a later check for contacts created since then starts there. ``complete``
    is False when the provider ignored part of the query, so what it sent may not be every
    contact: such a sync proves nothing about an email it did not see. An id may be ``""``:
    the contact exists (never create it) but the provider wants it looked up before use.
    """

    contacts: dict[str, str]
    mark: str | None
    complete: bool = True
    #: The provider's records by email, for its own use (the engine keeps only the ids).
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
