"""Postbox: a provider that lives only in the tests, to prove the engine drives any provider
through :class:`addon.providers.Provider` alone. It keeps its lists and subscribers in memory
and words its answers in its own name, so a test can tell its wording from iContact's."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from addon.providers import (
    MEMBER,
    OPTED_OUT,
    Action,
    BatchResult,
    CredentialField,
    Membership,
    NotFound,
    Outcome,
    Provider,
    RejectedCredentials,
    RemoteList,
    SetupStep,
    Throttle,
)

NAME = "postbox"
USERNAME = "merchant@postbox.test"
PASSWORD = "postbox-secret"
KEYS_URL = "https://postbox.test/keys"


@dataclass
class PostboxAccount:
    """The one account Postbox knows: its lists and what was applied to them, in order."""

    lists: dict[str, str] = field(default_factory=lambda: {"L1": "Buyers", "L2": "Refunds"})
    members: dict[str, set[str]] = field(default_factory=dict)
    #: Per list, the people who unsubscribed themselves.
    opted_out: dict[str, set[str]] = field(default_factory=dict)
    #: ``(action, list_id, email)`` per action applied.
    received: list[tuple[str, str, str]] = field(default_factory=list)
    #: The throttle each client was made with (the engine's pacing of this provider).
    throttles: list[Throttle | None] = field(default_factory=list)


class PostboxClient:
    def __init__(self, account: PostboxAccount, username: str, password: str, throttle=None):
        self.account, self.username, self.password = account, username, password
        self.throttle = throttle
        account.throttles.append(throttle)

    def _check(self) -> None:
        if (self.username, self.password) != (USERNAME, PASSWORD):
            raise RejectedCredentials("Postbox does not know that key")

    def discover(self) -> tuple[str, str]:
        self._check()
        return "acct-1", "box-1"

    def lists(self) -> list[RemoteList]:
        self._check()
        return [RemoteList(key, name) for key, name in self.account.lists.items()]

    def create_list(self, name: str) -> RemoteList:
        self._check()
        key = f"L{len(self.account.lists) + 1}"
        self.account.lists[key] = name
        return RemoteList(key, name)

    def sibling(self) -> PostboxClient:
        return PostboxClient(self.account, self.username, self.password, self.throttle)


def _apply(
    client: PostboxClient, actions: list[Action], known: dict[str, str], lookup_threads: int = 1
) -> BatchResult:
    client._check()
    outcomes: dict[Hashable, Outcome | NotFound] = {}
    for act in actions:
        email = act.email_key
        if act.list_id not in client.account.lists:
            outcomes[act.key] = NotFound(f"no box {act.list_id}")
            continue
        client.account.received.append((act.action, act.list_id, email))
        members = client.account.members.setdefault(act.list_id, set())
        if act.action == "add":
            members.add(email)
            outcomes[act.key] = Outcome("success", f"Postbox filed {email} in box {act.list_id}")
        else:
            members.discard(email)
            outcomes[act.key] = Outcome("success", f"Postbox took {email} out of {act.list_id}")
    return BatchResult(outcomes=dict(outcomes), learned={a.email_key: a.email_key for a in actions})


def _read_members(client: PostboxClient, list_ids, emails) -> Membership:
    client._check()
    wanted = {email.lower() for email in emails}
    lists = {}
    for list_id in list_ids:
        held = {e: MEMBER for e in client.account.members.get(list_id, set()) & wanted}
        held.update({e: OPTED_OUT for e in client.account.opted_out.get(list_id, set()) & wanted})
        lists[list_id] = held
    return Membership(lists, calls=len(lists))


def postbox(account: PostboxAccount, calls_per_minute: int = 600) -> Provider:
    """The Postbox provider over ``account``."""

    def make_client(
        settings: Any,
        username: str,
        password: str,
        account_id: str | None = None,
        client_folder_id: str | None = None,
        http: Any = None,
        throttle: Throttle | None = None,
    ) -> PostboxClient:
        return PostboxClient(account, username, password, throttle)

    return Provider(
        name=NAME,
        display_name="Postbox",
        make_client=make_client,
        apply_actions=_apply,
        make_http=lambda settings: object(),
        http_key=lambda settings: (),
        calls_per_minute=lambda settings: calls_per_minute,
        lookup_threads=lambda settings: 1,
        rejected_on_connect=lambda settings: "Postbox did not recognise that key pair.",
        credentials=(
            CredentialField("username", "Postbox key name", missing="Name your Postbox key."),
            CredentialField(
                "password",
                "Postbox secret",
                "password",
                help="Shown once, when you made the key.",
                missing="Paste the key's secret.",
            ),
        ),
        setup_title="Make a Postbox key",
        setup_steps=lambda settings: [
            SetupStep("Open", link=("your Postbox keys", KEYS_URL), after="and make a key."),
            SetupStep("Give it this name:", copy="storefront", copy_name="the key name"),
        ],
        read_members=_read_members,
    )
