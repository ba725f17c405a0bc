"""The real stack the fault suite drives, and the switches it pulls.

A Redis server the suite owns (stopped and started again on the same port), the machine's
PostgreSQL cluster (stopped and started again, when the run may control it), the iContact
simulator served over HTTP from this process (with a recorder of every subscription change),
and ``worker.py`` processes (SIGKILLed and replaced; restarted when they exit on their own, as
a process supervisor would).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import StartedJobRegistry
from sqlalchemy.engine import make_url

from addon.embedded_redis import EmbeddedRedis, free_port
from addon.sandbox import SandboxState, create_sandbox_app, serve_in_thread
from addon.sandbox import subscriptions as sandbox_subscriptions

ROOT = Path(__file__).resolve().parents[2]


class RestartableRedis:
    """An embedded ``redis-server`` on a fixed port, so clients find it again after a restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._server: EmbeddedRedis | None = None
        self.start()

    @property
    def up(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        # The old socket may linger for a moment after a stop; try again briefly.
        for attempt in range(20):
            try:
                self._server = EmbeddedRedis(port=self.port)
                return
            except RuntimeError:
                if attempt == 19:
                    raise
                time.sleep(0.25)

    def stop(self) -> None:
        """Stop the server; everything it held (queued and scheduled jobs) is gone."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self) -> Redis:
        return Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=5)


class PostgresServer:
    """This machine's PostgreSQL cluster, stopped and started again with ``pg_ctlcluster``.

    Every client of the server loses its connections while it is down: the other tests and
    programs that use it too, so keep outages short.
    """

    def __init__(self, version: str, cluster: str, port: int) -> None:
        self.command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster]
        self.port = port
        self.up = True
        #: ``time.monotonic()`` when the server last answered again after a stop.
        self.returned_at: float | None = None

    @classmethod
    def serving(cls, uri: str) -> tuple[PostgresServer | None, str]:
        """The cluster that serves ``uri``, if this run may stop and start it.

        Returns:
            The server, or None and why not (SQLite, another machine, no ``pg_ctlcluster``,
            not root, or ``FAULT_DATABASE_OUTAGE=0``).
        """
        url = make_url(uri)
        if url.get_backend_name() != "postgresql":
            return None, "the database is not PostgreSQL"
        if os.environ.get("FAULT_DATABASE_OUTAGE", "1") == "0":
            return None, "FAULT_DATABASE_OUTAGE=0"
        if url.host not in (None, "127.0.0.1", "localhost", "::1"):
            return None, f"PostgreSQL runs on another machine ({url.host})"
        if shutil.which("pg_lsclusters") is None or shutil.which("pg_ctlcluster") is None:
            return None, "no pg_ctlcluster here"
        if os.geteuid() != 0:
            return None, "stopping the cluster needs root"
        listing = subprocess.run(
            ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False
        ).stdout
        for line in listing.splitlines():
            version, cluster, port, status, *_ = line.split()
            if int(port) == (url.port or 5432) and status == "online":
                return cls(version, cluster, int(port)), ""
        return None, f"no running cluster of this machine listens on port {url.port or 5432}"

    def stop(self) -> None:
        """Stop the server at once (``-m fast``: open connections are cut off)."""
        # Down from the first cut-off connection on; and whatever pg_ctlcluster says, a
        # start afterwards is harmless on a server that is up, and a shared one left down not.
        self.up = False
        subprocess.run([*self.command, "stop", "-m", "fast"], check=True, capture_output=True)

    def start(self) -> None:
        """Start the server and return once it accepts connections."""
        subprocess.run([*self.command, "start"], check=False, capture_output=True)
        deadline = time.monotonic() + 30
        ready = ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        while subprocess.run(ready, check=False).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not come back within 30 s")
            time.sleep(0.1)
        self.returned_at = time.monotonic()
        self.up = True


@dataclass(frozen=True)
class Change:
    """One subscription status change the simulator made (``before`` None: it was created)."""

    username: str
    list_id: str
    contact_id: str
    before: str | None
    after: str | None


class SubscriptionRecorder:
    """Records each change of a subscription's status inside the simulator, atomically.

    Wraps the simulator's two mutating functions (module globals that its views look up at
    call time) while holding the simulator's lock, so ``before`` and ``after`` are exact.
    """

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.changes: list[Change] = []
        self.writes: Counter[tuple[str, str, str]] = Counter()
        self._originals = (sandbox_subscriptions.subscribe, sandbox_subscriptions.change_status)

    def install(self) -> None:
        original_subscribe, original_change = self._originals

        def subscribe(state, account, items):
            with state.lock:
                keys = [
                    (str(item.get("listId")), str(item.get("contactId")))
                    for item in items
                    if isinstance(item, dict)
                ]
                before = {key: _status(account, key) for key in keys}
                result = original_subscribe(state, account, items)
                for key in keys:
                    self._note(account, key, before[key])
                return result

        def change_status(state, account, subscription_id, body):
            list_id, _, contact_id = str(subscription_id).partition("_")
            key = (list_id, contact_id)
            with state.lock:
                before = _status(account, key)
                result = original_change(state, account, subscription_id, body)
                self._note(account, key, before)
                return result

        sandbox_subscriptions.subscribe = subscribe
        sandbox_subscriptions.change_status = change_status

    def uninstall(self) -> None:
        sandbox_subscriptions.subscribe, sandbox_subscriptions.change_status = self._originals

    def _note(self, account, key: tuple[str, str], before: str | None) -> None:
        after = _status(account, key)
        self.writes[(account.username, *key)] += 1
        if after != before:
            self.changes.append(Change(account.username, key[0], key[1], before, after))


def _status(account, key: tuple[str, str]) -> str | None:
    record = account.subscriptions.get(key)
    return None if record is None else record["status"]


class Simulator:
    """The iContact simulator on a real socket, with its fault knobs and a change recorder."""

    def __init__(self, seed: int) -> None:
        self.state = SandboxState(seed=seed)
        self.recorder = SubscriptionRecorder(self.state)
        self.recorder.install()
        self.base_url, self._server = serve_in_thread(create_sandbox_app(self.state))

    def faults(self, **knobs) -> None:
        with self.state.lock:
            self.state.faults.update(**knobs)

    def calm(self) -> None:
        """Every fault knob off."""
        self.faults(latency=0.0, error_500_rate=0.0, error_503_rate=0.0, calls_per_minute=None)

    def wait_quiet(self, seconds: float, timeout: float = 120.0) -> None:
        """Wait until no API call arrived for ``seconds``: a worker with a stale batch may
        still be calling after the database says all is done."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            calls = self.state.stats.total_calls
            if calls != last:
                last, since = calls, time.monotonic()
            elif time.monotonic() - since >= seconds:
                return
            time.sleep(0.2)

    def close(self) -> None:
        self._server.shutdown()
        self.recorder.uninstall()


class Workers:
    """``worker.py`` processes, each in a process group of its own (with its RQ scheduler).

    A supervisor thread restarts a worker that exited without being told to (RQ quits when
    Redis disappears under a running job), as systemd or Kubernetes would.
    """

    def __init__(self, env: dict[str, str], log_dir: Path, count: int) -> None:
        self.env = env
        self.log_dir = log_dir
        self.count = count
        self.procs: dict[int, subprocess.Popen] = {}
        self.names: dict[int, str] = {}
        self.generation = 0
        self.restarts = 0
        self.kills = 0
        self._groups: list[int] = []
        self._last_start: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None

    def start_all(self) -> None:
        for slot in range(self.count):
            self._start(slot)
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()

    def _start(self, slot: int) -> None:
        self.generation += 1
        name = f"fault-w{slot}-g{self.generation}"
        with open(self.log_dir / f"worker-{slot}.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "worker.py", "--name", name],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[slot] = proc
        self.names[slot] = name
        self._groups.append(proc.pid)
        self._last_start[slot] = time.monotonic()

    def _supervise(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                for slot, proc in list(self.procs.items()):
                    # Back off a little: a worker started while Redis is down exits at once.
                    recent = time.monotonic() - self._last_start[slot] < 2.0
                    if proc.poll() is not None and not recent:
                        self._end_group(proc.pid, signal.SIGKILL)
                        self.restarts += 1
                        self._start(slot)

    def wait_ready(self, redis: Redis, timeout: float = 60.0) -> None:
        """Wait until every worker has registered with RQ (imports and migrations take a while)."""
        deadline = time.monotonic() + timeout
        while len(Worker.all(connection=redis)) < self.count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers did not start in {timeout} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def busy_slot(self, redis: Redis, queue: str) -> int | None:
        """A slot whose worker is running a job right now.

        Read from the jobs in progress rather than RQ's worker registry, which a Redis restart
        empties (workers register only when they start).
        """
        try:
            for job_id in StartedJobRegistry(queue, connection=redis).get_job_ids(cleanup=False):
                try:
                    name = Job.fetch(job_id, connection=redis).worker_name
                except NoSuchJobError:
                    continue
                for slot, proc in self.procs.items():
                    if self.names[slot] == name and proc.poll() is None:
                        return slot
        except RedisError:
            return None
        return None

    def sigkill(self, slot: int) -> None:
        """SIGKILL the worker (and its scheduler) mid-job, then start a replacement."""
        with self._lock:
            proc = self.procs[slot]
            self._end_group(proc.pid, signal.SIGKILL)
            proc.wait(10)
            self.kills += 1
            self._start(slot)

    def close(self) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(5)
        with self._lock:
            for proc in self.procs.values():
                self._end_group(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            for proc in self.procs.values():
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            # Whatever is left of any group started here (orphaned RQ schedulers included).
            for pgid in self._groups:
                self._end_group(pgid, signal.SIGKILL)
            for proc in self.procs.values():
                proc.wait(5)

    @staticmethod
    def _end_group(pgid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def log_tail(self, chars: int = 3000) -> str:
        parts = []
        for path in sorted(self.log_dir.glob("worker-*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)
