"""Applying many add/remove actions to one iContact account with few calls.

Contacts are looked up once per email (and not at all when the caller already knows the id),
missing ones are created in one ``POST /contacts``, and subscriptions made in one
``POST /subscriptions`` per chunk. Each action still gets its own outcome.

No one who opted out is subscribed: the adds are screened (:mod:`.screening`) before any
subscribe, and a rejected subscription is explained from the contact's status.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..base import (
    Action,
    BatchResult,
    InvalidData,
    NotFound,
    Outcome,
    ProviderError,
    RejectedCredentials,
    TemporaryFailure,
)
from . import consent
from .client import IContactClient
from .screening import screen
from .subscribers import contact_record, remove_subscriber
from .sync import new_among


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _summary(entry: dict[str, Any], shared_by: int) -> dict[str, Any]:
    """A transcript entry without a 200-record body: who else shared the call is enough."""
    slim = {k: v for k, v in entry.items() if k not in ("request", "response")}
    slim["shared_by"] = shared_by
    return slim


class _Batch:
    def __init__(
        self,
        client: IContactClient,
        known: dict[str, str],
        lookup_threads: int,
        make_client: Callable[[], IContactClient],
        since: str | None = None,
    ):
        self.client = client
        #: The contact sync's mark: emails not in ``known`` are new unless created since.
        self.since = since
        self.ids = {email: contact_id for email, contact_id in known.items() if contact_id}
        self.from_cache = set(self.ids)
        #: Synced without an id (iContact will not mail them): looked up, never created.
        self.look_up_first = set(known) - self.from_cache
        self.result = BatchResult()
        self.lookup_threads = lookup_threads
        self.make_client = make_client
        self.details: dict[Hashable, list[dict[str, Any]]] = {}
        self.lookups: dict[str, list[dict[str, Any]]] = {}
        self.created: set[str] = set()
        #: The contacts found by lookup, with their status (cached ids come without).
        self.contacts: dict[str, dict[str, Any]] = {}

    # -- contacts ----------------------------------------------------------------------------

    def lookup(self, emails: list[str]) -> None:
        """Find unknown emails' contact ids, several lookups at a time."""
        missing = [e for e in emails if e not in self.ids]
        if not missing:
            return
        if self.client.throttle is not None:
            # One trip to the shared limiter for the lookups, not one per lookup.
            self.client.throttle.reserve(len(missing))

        def find(email: str):
            client = self.make_client()
            contact = client.find_contact(email)
            return email, contact, client.transcript

        threads = max(1, min(self.lookup_threads, len(missing)))
        with ThreadPoolExecutor(threads) as pool:
            for email, contact, transcript in pool.map(find, missing):
                self.result.calls += transcript
                self.lookups[email] = transcript
                if contact is not None:
                    self.contacts[email] = contact
                    self.learn(email, str(contact["contactId"]))

    def learn(self, email: str, contact_id: str) -> None:
        self.ids[email] = contact_id
        self.result.learned[email] = contact_id

    def forget(self, email: str) -> None:
        self.ids.pop(email, None)
        self.from_cache.discard(email)
        self.result.learned.pop(email, None)
        self.result.forgotten.add(email)

    def create(self, actions: list[Action]) -> None:
        """Create every contact still unknown, in one call per chunk."""
        records: dict[str, dict[str, str]] = {}
        for act in actions:
            if act.email_key not in self.ids and act.email_key not in records:
                records[act.email_key] = contact_record(act.customer)
        for chunk in _chunks(list(records.values()), self.client.records_per_call):
            start = len(self.client.transcript)
            body = self.client.request("POST", self.client.folder_path("/contacts"), json=chunk)
            calls = self.client.transcript[start:]
            self.result.calls += calls
            for record in chunk:
                self.lookups.setdefault(record["email"].lower(), []).extend(
                    _summary(c, len(chunk)) for c in calls
                )
            for contact in body.get("contacts") or []:
                self.learn(str(contact["email"]).lower(), str(contact["contactId"]))
                self.created.add(str(contact["email"]).lower())
            warnings = " ".join(body.get("warnings") or [])
            for record in chunk:
                if record["email"].lower() not in self.ids:
                    failure = InvalidData(warnings or "iContact did not create the contact")
                    for act in actions:
                        if act.email_key == record["email"].lower():
                            self.result.outcomes[act.key] = failure
                            self.details[act.key] = list(self.lookups.get(act.email_key, []))

    def share(self, acts: list[Action], calls: list[dict[str, Any]]) -> None:
        self.result.calls += calls
        for act in acts:
            self.details.setdefault(act.key, []).extend(_summary(c, len(acts)) for c in calls)

    # -- subscriptions -----------------------------------------------------------------------

    def subscribe(self, actions: list[Action]) -> list[Action]:
        """Subscribe in one call per chunk; returns the actions iContact did not accept."""
        rejected: list[Action] = []
        for chunk in _chunks(actions, self.client.records_per_call):
            pairs = [(a.list_id, self.ids[a.email_key]) for a in chunk]
            start = len(self.client.transcript)
            answer = self.client.subscribe(
                pairs, ["pending" if a.double_opt_in else "normal" for a in chunk]
            )
            calls = self.client.transcript[start:]
            accepted = {
                (str(s.get("listId")), str(s.get("contactId")))
                for s in answer.get("subscriptions") or []
            }
            for act, pair in zip(chunk, pairs, strict=True):
                detail = self.details.setdefault(act.key, [])
                detail += self.lookups.get(act.email_key, [])
                detail += (_summary(c, len(chunk)) for c in calls)
                if pair in accepted:
                    self.result.outcomes[act.key] = Outcome(
                        "success", self._added(act, pair[1]), {"contactId": pair[1]}
                    )
                else:
                    rejected.append(act)
            self.result.calls += calls
        return rejected

    def _added(self, act: Action, contact_id: str) -> str:
        if act.double_opt_in:
            return f"Asked contact {contact_id} to confirm joining list {act.list_id}"
        if act.email_key in self.created:
            return f"Created contact {contact_id} and subscribed it to list {act.list_id}"
        source = "cached" if act.email_key in self.from_cache else "existing"
        return f"Subscribed {source} contact {contact_id} to list {act.list_id}"

    def recover(self, rejected: list[Action]) -> None:
        """Explain rejected subscriptions: a deleted list, a stale cached contact id, or a
        contact iContact will not mail (its status read again, as the batch may not know it)."""
        existing: dict[str, bool] = {}
        retry: list[Action] = []
        for act in rejected:
            if act.list_id not in existing:
                existing[act.list_id] = self.client.list_exists(act.list_id)
            if not existing[act.list_id]:
                self.result.outcomes[act.key] = NotFound("The list no longer exists in iContact")
            elif act.email_key in self.from_cache:
                self.forget(act.email_key)
                retry.append(act)
            else:
                self.result.outcomes[act.key] = self._refused(act)
        if retry:
            self.lookup([a.email_key for a in retry])
            self.create(retry)
            again = screen(self, [a for a in retry if a.key not in self.result.outcomes])
            for act in self.subscribe(again):
                self.result.outcomes[act.key] = InvalidData(
                    "iContact did not accept the subscription"
                )

    def _refused(self, act: Action) -> Outcome | ProviderError:
        start = len(self.client.transcript)
        contact = self.contacts.get(act.email_key) or self.client.find_contact(
            act.customer["email"]
        )
        self.share([act], self.client.transcript[start:])
        if contact is not None and not consent.subscribable(contact):
            return consent.refused_contact(act, contact)
        return InvalidData("iContact did not accept the subscription")


def _apply(batch: _Batch, client: IContactClient, actions: list[Action]) -> None:
    adds = [a for a in actions if a.action == "add"]
    removes = [a for a in actions if a.action == "remove"]
    unknown = sorted({a.email_key for a in adds} - batch.ids.keys())
    withheld = [e for e in unknown if e in batch.look_up_first]
    batch.lookup(new_among(batch, [e for e in unknown if e not in batch.look_up_first]) + withheld)
    adds = screen(batch, adds)
    batch.create(adds)
    ready = [a for a in adds if a.key not in batch.result.outcomes]
    batch.recover(batch.subscribe(ready))
    for act in removes:
        start = len(client.transcript)
        try:
            outcome = remove_subscriber(
                client, act.customer["email"], act.list_id, batch.ids.get(act.email_key)
            )
        except (RejectedCredentials, TemporaryFailure):
            raise
        except ProviderError as exc:
            batch.result.outcomes[act.key] = exc
        else:
            batch.result.outcomes[act.key] = outcome
            contact_id = outcome.detail.get("contactId")
            if contact_id:
                batch.learn(act.email_key, contact_id)
            elif act.email_key in batch.ids:
                batch.forget(act.email_key)
        batch.details.setdefault(act.key, []).extend(client.transcript[start:])


def apply_actions(
    client: IContactClient,
    actions: list[Action],
    known: dict[str, str],
    *,
    lookup_threads: int = 8,
    make_client: Callable[[], IContactClient] | None = None,
    since: str | None = None,
) -> BatchResult:
    """Apply adds and removes for one account; ``known`` maps lower-cased emails to ids.

    A temporary failure part-way keeps what was already done: the actions it left undone get
    the ``TemporaryFailure`` as their outcome, for the caller to retry just those.

    Args:
        since: the mark of a complete contact sync (``known`` then holds every contact the
            account had): one check for contacts created since replaces the lookups.

    Raises:
        RejectedCredentials: for the whole batch (the caller holds it; every call is
            idempotent, so applying it again later is safe).
    """
    batch = _Batch(client, known, lookup_threads, make_client or client.sibling, since)
    try:
        _apply(batch, client, actions)
    except TemporaryFailure as exc:
        for act in actions:
            batch.result.outcomes.setdefault(act.key, exc)
    for key, calls in batch.details.items():
        final = batch.result.outcomes.get(key)
        if isinstance(final, Outcome):
            final.detail.setdefault("calls", calls)
    batch.result.details = batch.details
    return batch.result
