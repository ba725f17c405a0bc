"""One fresh copy of the real stack for one measured run.

A run gets its own Redis server (embedded, or a given one flushed), its own simulator process,
its own SQLite file in a temp dir (or a given database, emptied), the add-on's app in this
process (for emitting and reading the database) and ``worker.py`` processes started on demand.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from redis import Redis
from rq import Worker
from sqlalchemy import create_engine, text

from addon.embedded_redis import EmbeddedRedis, free_port
from addon.store import db as schema
from addon.store.models import Base

ROOT = Path(__file__).resolve().parent.parent

APP_ID = "bench-app-id"
USERNAME = "bench@icontact.test"
PASSWORD = "bench-app-password"
ENCRYPTION_KEY = "qkVb3v1dQG0Zq2kqkmS1XqGm0hQmM7V0Q2Yb6J3e2rA="
# Keep every log entry of a run: outcomes stay countable (the pruning query still runs).
LOG_LIMIT = 10_000_000
# Passes that are not about the limiter run with it out of the way.
UNLIMITED_CALLS_PER_MINUTE = 10_000_000


@dataclass
class Snapshot:
    """A stack's SQLite file and every Redis key (with its TTL), taken after emitting, so
    several runs can start from the same emitted workload without emitting it again."""

    db_file: Path
    redis_keys: list[tuple[bytes, int, bytes]]
    lists: dict[str, str]


@dataclass
class CpuReading:
    workers: float
    simulator: float
    #: This process (polling the database for the end of the run).
    bench: float
    #: (busy, total) CPU seconds of the whole machine, every core counted.
    machine: tuple[float, float]
    #: The simulator's scheduling priority (see SIMULATOR_NICE).
    simulator_nice: int = 0

    def __sub__(self, earlier: CpuReading) -> CpuReading:
        return CpuReading(
            self.workers - earlier.workers,
            self.simulator - earlier.simulator,
            self.bench - earlier.bench,
            (self.machine[0] - earlier.machine[0], self.machine[1] - earlier.machine[1]),
            self.simulator_nice,
        )

    @property
    def machine_busy(self) -> float:
        """The share of the machine's CPU time that was busy (0..1)."""
        busy, total = self.machine
        return busy / total if total else float("nan")


_TICK = os.sysconf("SC_CLK_TCK")
_MIGRATING = threading.Lock()

#: The simulator runs ahead of the workers for the CPU. It stands in for iContact's servers,
#: whose answers never wait for our workers' CPU; at the workers' priority a call waited for
#: the simulator to get a turn on two cores kept busy by two workers (13 interleaved pairs of
#: two-worker runs: scale_2w median 1.49 at equal priority, 1.65 ahead). Its CPU time still
#: counts against this machine, and the report shows the priority it got.
SIMULATOR_NICE = -10


def _ahead_of_workers() -> None:
    try:
        os.nice(SIMULATOR_NICE)
    except PermissionError:
        pass  # not allowed here: it runs at the workers' priority (the report says so)


def _proc_stat(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (state first); [] if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = _proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / _TICK if fields else 0.0


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and of its live descendants."""
    total = _process_cpu_s(pid)
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = task.read_text().split()
        except OSError:
            continue
        total += sum(_tree_cpu_s(int(child)) for child in children)
    return total


def _process_nice(pid: int) -> int:
    fields = _proc_stat(pid)
    return int(fields[16]) if fields else 0


def _machine_cpu_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of every core since boot; waiting for I/O counts as idle."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / _TICK, sum(values) / _TICK


class Stack:
    """Redis + simulator + database + workers for one run; ``close()`` ends all of it.

    Args:
        settings: extra ``ADDON_*`` settings for the app and its workers (strings or numbers).
        redis_url: use this Redis (flushed!) instead of an embedded one.
        database_uri: use this database (the add-on's tables emptied) instead of SQLite.
        profile: a directory for py-spy samples of the workers (None: no profiling).
        snapshot: start from this database file and these Redis keys (SQLite only).
    """

    def __init__(
        self,
        settings: dict[str, Any] | None = None,
        redis_url: str | None = None,
        database_uri: str | None = None,
        profile: Path | None = None,
        snapshot: Snapshot | None = None,
    ):
        self.dir = Path(tempfile.mkdtemp(prefix="addon-bench-"))
        self.workers: list[subprocess.Popen] = []
        #: Where py-spy writes each worker's sampled stacks (None: no profiling).
        self.profile = profile
        self._profilers: list[subprocess.Popen] = []
        self._worker_logs: list[Any] = []
        self._redis_server = None
        self._simulator: subprocess.Popen | None = None
        self.snapshot = snapshot
        try:
            self._start(settings or {}, redis_url, database_uri)
        except BaseException:
            self.close()
            raise

    def _start(self, settings, redis_url, database_uri) -> None:
        if redis_url:
            self.redis_url = redis_url
            Redis.from_url(redis_url).flushdb()
        else:
            self._redis_server = EmbeddedRedis()
            self.redis_url = self._redis_server.url
        self.database_uri = database_uri or f"sqlite:///{self.dir / 'bench.db'}"
        if database_uri:
            _empty_tables(database_uri)
        if self.snapshot is not None:
            if database_uri:
                raise ValueError("snapshots are of SQLite databases only")
            shutil.copyfile(self.snapshot.db_file, self.dir / "bench.db")
            restore = Redis.from_url(self.redis_url)
            for key, ttl, data in self.snapshot.redis_keys:
                restore.restore(key, max(ttl, 0), data, replace=True)
        self.simulator_url = self._start_simulator()
        self.sim = requests.Session()
        self.config = {
            "SECRET_KEY": "bench-secret",
            "SQLALCHEMY_DATABASE_URI": self.database_uri,
            "ADDON_REDIS_URL": self.redis_url,
            "ADDON_ICONTACT_API_URL": self.simulator_url + "/icp",
            "ADDON_ICONTACT_APP_ID": APP_ID,
            "ADDON_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "ADDON_LOG_LIMIT": LOG_LIMIT,
            "ADDON_ICONTACT_CALLS_PER_MINUTE": UNLIMITED_CALLS_PER_MINUTE,
            **settings,
        }
        # The app in this process: creates the tables before any worker starts.
        from wsgi import create_app  # noqa: PLC0415 - after sys.path is set by the caller

        # One at a time: Alembic keeps its running migration in module globals, and two stacks
        # started side by side (threads of this process) failed with KeyError: 'script'.
        with _MIGRATING:
            self.app = create_app(dict(self.config))
        self.redis = Redis.from_url(self.redis_url)

    def _start_simulator(self) -> str:
        port = free_port()
        log = open(self.dir / "simulator.log", "wb")  # noqa: SIM115 - closed with the stack
        self._worker_logs.append(log)
        self._simulator = subprocess.Popen(
            [sys.executable, "-m", "bench.simulator", "--port", str(port)],
            preexec_fn=_ahead_of_workers,  # noqa: PLW1509 - only os.nice, no locks or threads
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._simulator.poll() is not None:
                raise RuntimeError(f"the simulator exited; see {self.dir / 'simulator.log'}")
            try:
                requests.get(url + "/bench/stats", timeout=1)
                return url
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("the simulator did not start in time")

    # -- the simulator -------------------------------------------------------------------

    def take_snapshot(self, folder: Path, lists: dict[str, str]) -> Snapshot:
        """Copy the SQLite database (online backup) and dump every Redis key."""
        with self.app.app_context():
            self.app.extensions["addon"].db.engine.dispose()
        target = folder / "emitted.db"
        source = sqlite3.connect(self.dir / "bench.db")
        copy = sqlite3.connect(target)
        with copy:
            source.backup(copy)
        source.close()
        copy.close()
        keys = []
        for key in self.redis.scan_iter(count=1000):
            data = self.redis.dump(key)
            if data is not None:
                keys.append((key, self.redis.pttl(key), data))
        return Snapshot(target, keys, lists)

    def register_account(self, lists: list[str]) -> dict[str, str]:
        """Create the merchant's iContact account; returns ``{list name: list id}``.

        A fresh simulator numbers accounts and lists the same way every time, so a stack made
        from a snapshot gets the ids its database already holds (checked).
        """
        answer = self.sim.post(
            self.simulator_url + "/icp/_sandbox/accounts",
            json={"username": USERNAME, "app_id": APP_ID, "app_password": PASSWORD, "lists": lists},
        )
        answer.raise_for_status()
        body = answer.json()
        self.account_path = f"/a/{body['accountId']}/c/{body['clientFolderId']}"
        found = {item["name"]: item["listId"] for item in body["lists"]}
        if self.snapshot is not None and found != self.snapshot.lists:
            raise RuntimeError("the simulator numbered the lists unlike the snapshot's")
        return found

    def set_faults(self, **faults: Any) -> None:
        self.sim.post(self.simulator_url + "/icp/_sandbox/faults", json=faults).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return self.sim.get(self.simulator_url + "/bench/stats").json()

    def subscriptions(self, after: int = 0) -> tuple[list, int]:
        body = self.sim.get(self.simulator_url + "/bench/subscriptions", params={"after": after})
        data = body.json()
        return data["entries"], data["next"]

    # -- workers ---------------------------------------------------------------------------

    def worker_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ADDON_")}
        env.update({key: str(value) for key, value in self.config.items()})
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start_workers(self, count: int, command: list[str] | None = None) -> dt.datetime:
        """Start ``count`` worker processes and wait until each has registered with RQ.

        Args:
            command: the worker command line (default ``worker.py``); ``--name`` is appended.

        Returns:
            The earliest registration ("birth") time, naive UTC: where a timed run starts.
        """
        names = []
        for _ in range(count):
            name = f"bench-{len(self.workers) + 1}-{os.getpid()}"
            names.append(name)
            log = open(self.dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the stack
            self._worker_logs.append(log)
            argv = [sys.executable, *(command or ["worker.py"]), "--name", name]
            process = subprocess.Popen(
                argv, cwd=ROOT, env=self.worker_env(), stdout=log, stderr=subprocess.STDOUT
            )
            self.workers.append(process)
            if self.profile is not None:
                self._profile(process, name)
        births = [self._birth(name) for name in names]
        return min(births)

    def _profile(self, process: subprocess.Popen, name: str) -> None:
        """Sample the worker with py-spy (collapsed stacks, flamegraph.pl format)."""
        assert self.profile is not None
        self.profile.mkdir(parents=True, exist_ok=True)
        out = self.profile / f"{name}.txt"
        py_spy = str(Path(sys.executable).parent / "py-spy")
        options = ["--rate", "200", "--format", "raw", "--nonblocking", "--idle"]
        self._profilers.append(
            subprocess.Popen(
                [py_spy, "record", "--pid", str(process.pid), *options, "--output", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def _birth(self, name: str, timeout: float = 60) -> dt.datetime:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            worker = Worker.find_by_key(f"rq:worker:{name}", connection=self.redis)
            if worker is not None and worker.birth_date is not None:
                return worker.birth_date.astimezone(dt.UTC).replace(tzinfo=None)
            for process in self.workers:
                if process.poll() not in (None, 0):
                    raise RuntimeError(f"a worker exited; see the logs in {self.dir}")
            time.sleep(0.005)
        raise RuntimeError(f"worker {name} did not register in time; see {self.dir}")

    def cpu(self) -> CpuReading:
        """CPU seconds used so far by the running workers and the simulator, and the machine's
        busy and total CPU seconds (all cores): take two and subtract."""
        return CpuReading(
            workers=sum(_process_cpu_s(process.pid) for process in self.workers),
            simulator=_tree_cpu_s(self._simulator.pid) if self._simulator else 0.0,
            bench=time.process_time(),
            machine=_machine_cpu_s(),
            simulator_nice=_process_nice(self._simulator.pid) if self._simulator else 0,
        )

    def peak_rss_mb(self) -> float:
        """The largest peak resident set (VmHWM) of the running workers, in MB."""
        peak = 0.0
        for process in self.workers:
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        return peak

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workers = []
        for profiler in self._profilers:
            try:
                profiler.wait(30)
            except subprocess.TimeoutExpired:
                profiler.kill()
        self._profilers = []

    def analyze(self) -> None:
        """Refresh PostgreSQL's table statistics, as autovacuum has on a shop's established
        tables: a fresh database's are empty, and plans made on them are a fresh database's
        problem, not a production one's."""
        with self.app.app_context():
            db_engine = self.app.extensions["addon"].db.engine
            if db_engine.dialect.name == "postgresql":
                with db_engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")

    # -- teardown --------------------------------------------------------------------------

    def close(self) -> None:
        self.stop_workers()
        keep = os.environ.get("BENCH_KEEP_LOGS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            for path in self.dir.glob("*.log"):
                shutil.copy(path, Path(keep) / path.name)
        if getattr(self, "app", None) is not None:
            with self.app.app_context():
                self.app.extensions["addon"].db.engine.dispose()
        if self._simulator is not None and self._simulator.poll() is None:
            self._simulator.terminate()
            try:
                self._simulator.wait(5)
            except subprocess.TimeoutExpired:
                self._simulator.kill()
        if self._redis_server is not None:
            self._redis_server.stop()
        for log in self._worker_logs:
            log.close()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _empty_tables(uri: str) -> None:
    """Start a given (shared) database from empty add-on tables, as the tests do."""
    engine = create_engine(uri)
    schema.upgrade(engine)  # the add-on's migrations, as the app's create_all() runs them
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    engine.dispose()
