"""The run itself: set up integrations and rules, emit the workload at a steady pace, and pull
each fault switch at its point in the run."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from addon.engine.integrations import update_integration
from addon.state import context
from addon.store.models import Delivery, Event, Integration
from addon.web.webhooks import sign
from tests.faults.audit import Setup
from tests.faults.stack import PostgresServer, RestartableRedis, Simulator, Workers
from tests.faults.workload import (
    DELETED_LIST,
    LISTS,
    MARKETPLACES,
    PASSWORD_CHANGED,
    RULES,
    Planned,
)

APP_ID = "fault-app-id"
PASSWORD = "fault-app-password"
NEW_PASSWORD = "fault-app-password-2"
WEBHOOK_SECRET = "whsec-faults"


@dataclass
class FaultStack:
    app: Flask
    redis: RestartableRedis
    sim: Simulator
    workers: Workers


def connect_all(stack: FaultStack) -> tuple[Setup, dict[str, int]]:
    """One iContact account and integration per marketplace, with every rule of the workload.

    Returns:
        The setup the audit needs, and the integration id of each marketplace.
    """
    rules, usernames, list_ids, integrations = {}, {}, {}, {}
    with stack.app.app_context():
        engine = stack.app.extensions["addon"]
        for marketplace in MARKETPLACES:
            username = f"{marketplace}@icontact.test"
            stack.sim.state.register(username, APP_ID, PASSWORD, lists=LISTS)
            integration = engine.connect(
                marketplace, label=f"{marketplace} iContact", username=username,
                password=PASSWORD,
            )  # fmt: skip
            for spec in RULES:
                rule = engine.add_rule(
                    marketplace,
                    trigger=spec.trigger,
                    integration_id=integration.id,
                    action=spec.action,
                    list_name=spec.list_name,
                    product_id=spec.product_id,
                )
                rules[rule.id] = (marketplace, spec)
            usernames[marketplace] = username
            integrations[marketplace] = integration.id
            for item in stack.sim.state.lists(username):
                list_ids[(marketplace, item["name"])] = item["listId"]
    return Setup(rules, usernames, list_ids), integrations


@dataclass
class Emitter:
    """The storefront: sends each planned event through ``emit()`` or the signed webhook."""

    app: Flask
    redis: RestartableRedis
    planned: list[Planned]
    seconds: float
    #: The database server, when the run stops it (sends fail while it is away).
    database: PostgresServer | None = None
    emitted: list[Planned] = field(default_factory=list)
    during_outage: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Sends that failed because the database was away, and were tried again.
    refused_without_database: int = 0

    def _database_away(self) -> bool:
        """Down, or back for under two seconds (each process's pooled connections died with
        the server, and its first statement after the return finds out)."""
        server = self.database
        if server is None:
            return False
        return not server.up or time.monotonic() - (server.returned_at or 0.0) < 2.0

    def run(self) -> None:
        client = self.app.test_client()
        url = self.app.config["ADDON_URL_PREFIX"] + "/api/events"
        seen: set[tuple[str, str]] = set()
        with self.app.app_context():
            engine = self.app.extensions["addon"]
            start = time.monotonic()
            for n, event in enumerate(self.planned):
                pause = start + n * self.seconds / len(self.planned) - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                key = (event.marketplace_id, event.event_id)
                if not self.redis.up and key not in seen:
                    self.during_outage.append(event.event_id)
                # A storefront retries a send that failed, a few times; while its database
                # is down, its checkout fails as a whole and the customer tries until it is up.
                attempt = tries = 0
                while attempt < 3:
                    try:
                        problem = self._send(engine, client, url, event, key in seen or tries > 0)
                    except Exception as exc:  # what the storefront would see as a 500
                        engine.db.session.rollback()
                        problem = f"raised {exc.__class__.__name__}: {exc}"
                    tries += 1
                    if problem is None:
                        break
                    if self._database_away():
                        self.refused_without_database += 1
                    else:
                        self.errors.append(f"{event.event_id}: {problem}")
                        attempt += 1
                    time.sleep(0.2)
                if key not in seen:
                    seen.add(key)
                    self.emitted.append(event)

    def _send(self, engine, client, url: str, event: Planned, repeat: bool) -> str | None:
        """Send once; returns what went wrong, or None."""
        if not event.via_webhook:
            engine.emit(
                event.type,
                marketplace_id=event.marketplace_id,
                customer=event.customer,
                event_id=event.event_id,
                **event.fields,
            )
            return None
        body = json.dumps(event.webhook_body()).encode()
        response = client.post(
            url,
            data=body,
            headers={"X-Addon-Signature": sign(body, WEBHOOK_SECRET)},
            content_type="application/json",
        )
        if response.status_code not in ((200, 202) if repeat else (202,)):
            return f"webhook answered {response.status_code}: {response.get_data()[:200]!r}"
        return None


class _Halted(Exception):
    pass


class FaultScript(threading.Thread):
    """Pulls each fault switch at a fraction of the emitting time, while events flow."""

    def __init__(self, stack: FaultStack, integrations: dict[str, int], seconds: float):
        super().__init__(name="fault-script", daemon=True)
        self.stack = stack
        self.integrations = integrations
        self.seconds = seconds
        self.kinds: list[str] = []
        self.notes: list[str] = []
        self.error: BaseException | None = None
        self._start = time.monotonic()
        self._halt = threading.Event()

    def halt(self) -> None:
        """Stop at the next step (the run failed): every knob off, Redis up again."""
        self._halt.set()

    def run(self) -> None:
        self._start = time.monotonic()
        try:
            with self.stack.app.app_context():
                self._script()
        except _Halted:
            pass
        except BaseException as exc:  # reported by the test, after the figures
            self.error = exc
        finally:
            self.stack.sim.calm()
            if not self.stack.redis.up:
                self.stack.redis.start()

    def _at(self, fraction: float) -> None:
        pause = self._start + fraction * self.seconds - time.monotonic()
        if self._halt.wait(max(0.0, pause)):
            raise _Halted

    def _script(self) -> None:
        sim = self.stack.sim
        self._at(0.04)
        sim.faults(latency=0.05)
        self.kinds.append("latency")
        self._at(0.10)
        sim.faults(error_500_rate=0.2)
        self.kinds.append("http-500")
        self._at(0.25)
        # Every account has made more than 5 calls in the last minute: all are refused now.
        sim.faults(latency=0.0, error_500_rate=0.0, calls_per_minute=5)
        self.kinds.append("503-throttle")
        self._at(0.38)
        sim.faults(calls_per_minute=None)
        self._at(0.40)
        self._rejected_credentials()
        self._at(0.55)
        self._delete_list()
        self._at(0.58)
        self._redis_outage()
        self._at(0.72)
        sim.faults(latency=0.1)
        self._sigkill_busy_worker()
        self._at(0.88)
        sim.faults(latency=0.0)

    def _status(self, marketplace: str) -> str:
        db = self.stack.app.extensions["addon"].db.session
        status = db.execute(
            select(Integration.status).where(Integration.id == self.integrations[marketplace])
        ).scalar_one()
        db.commit()
        return status

    def _rejected_credentials(self) -> None:
        """The merchant changes the application password in iContact, later fixes the add-on."""
        username = f"{PASSWORD_CHANGED}@icontact.test"
        self.stack.sim.state.change_password(username, NEW_PASSWORD, app_id=APP_ID)
        self.kinds.append("401-password-changed")
        changed = time.monotonic()
        deadline = changed + max(8.0, 0.1 * self.seconds)
        while self._status(PASSWORD_CHANGED) != "needs_attention":
            if time.monotonic() > deadline:
                self.notes.append("the integration never showed 'needs attention'")
                break
            time.sleep(0.2)
        else:
            waited = time.monotonic() - changed
            self.notes.append(f"{PASSWORD_CHANGED} needed attention {waited:.1f} s after it")
        self._at(0.50)
        for attempt in range(5):
            try:
                update_integration(
                    context(),
                    PASSWORD_CHANGED,
                    self.integrations[PASSWORD_CHANGED],
                    password=NEW_PASSWORD,
                )
                return
            except Exception as exc:  # a fault may be on; the merchant tries again
                self.stack.app.extensions["addon"].db.session.rollback()
                self.notes.append(f"fixing the password, try {attempt + 1}: {exc}")
                time.sleep(1)

    def _delete_list(self) -> None:
        marketplace, name = DELETED_LIST
        username = f"{marketplace}@icontact.test"
        [list_id] = [i["listId"] for i in self.stack.sim.state.lists(username) if i["name"] == name]
        self.stack.sim.state.delete_list(list_id)
        self.kinds.append("list-deleted")

    def _redis_outage(self) -> None:
        self.stack.redis.stop()
        self.kinds.append("redis-restart")
        time.sleep(max(3.0, 0.06 * self.seconds))
        self.stack.redis.start()

    def _sigkill_busy_worker(self) -> None:
        """SIGKILL a worker while it runs a job that holds leased deliveries."""
        workers, redis = self.stack.workers, self.stack.redis.client()
        db = self.stack.app.extensions["addon"].db.session
        deadline = time.monotonic() + max(10.0, 0.1 * self.seconds)
        slot = None
        while time.monotonic() < deadline:
            slot = workers.busy_slot(redis, self.stack.app.config["ADDON_QUEUE"])
            leased = db.execute(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status == "pending", Delivery.lease_owner.is_not(None))
            ).scalar_one()
            db.commit()
            if slot is not None and leased:
                self.notes.append(f"killed a worker holding leases on {leased} deliveries")
                break
            time.sleep(0.05)
        if slot is None:
            slot = 0
            self.notes.append("no worker was busy: killed worker 0 idle")
        workers.sigkill(slot)
        self.kinds.append("worker-sigkill")


def wait_until_done(app: Flask, timeout: float) -> str | None:
    """Poll the database until no event is unexpanded and no delivery pending.

    Returns:
        None when done, else what was still open at the timeout.
    """
    deadline = time.monotonic() + timeout
    with app.app_context():
        db = app.extensions["addon"].db.session
        while True:
            try:
                open_events = db.execute(
                    select(func.count()).select_from(Event).where(Event.expanded_at.is_(None))
                ).scalar_one()
                pending = db.execute(
                    select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
                ).scalar_one()
                db.commit()
            except OperationalError:  # the database is away (a fault) or just came back
                db.rollback()
                open_events = pending = -1
            if not open_events and not pending:
                return None
            if time.monotonic() > deadline:
                return f"{open_events} events unexpanded, {pending} deliveries pending"
            time.sleep(0.5)
