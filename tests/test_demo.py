"""The demo (``make demo``, ``demo/run.py``): Ctrl-C stops all of it quietly, a restart finds the
simulator's accounts as the demo's database left them, and the storefront has an icon."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from addon.embedded_redis import free_port
from addon.providers.icontact.client import IContactClient

ROOT = Path(__file__).resolve().parent.parent
SIMULATOR = re.compile(r"iContact simulator: (http://127\.0\.0\.1:\d+/icp)/")


def load_run():
    spec = importlib.util.spec_from_file_location("demo_run", ROOT / "demo" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = load_run()


class Demo:
    """``demo/run.py`` in a process group of its own, as a terminal runs it; its output kept."""

    def __init__(self, instance: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ADDON_", "SQLALCHEMY_"))}
        self.port = free_port()
        env.update(PORT=str(self.port), DEMO_INSTANCE=str(instance), PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "demo/run.py"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until_ready(self, timeout: float = 90) -> str:
        """The simulator's base URL, once the demo says it is ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = SIMULATOR.search(self.output)
            if found and "Ctrl-C stops everything." in self.output:
                return found.group(1)
            assert self.process.poll() is None, self.output
            time.sleep(0.1)
        raise AssertionError(f"the demo did not start in {timeout} s:\n{self.output}")

    def ctrl_c(self, timeout: float = 30) -> None:
        """Send SIGINT to the demo's process group, as a terminal's Ctrl-C does, and wait for
        it to stop (``subprocess.TimeoutExpired`` after ``timeout`` seconds)."""
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def demo_account(base_url: str) -> IContactClient:
    client = IContactClient(base_url, "icontact-web-login", run.DEMO_USER, run.DEMO_LOGIN_PASSWORD)
    client.discover()
    return client


def test_the_storefront_serves_its_icon(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = client.get("/login").text
    assert '<link rel="icon" href="/static/favicon.ico">' in page


def test_the_simulator_state_lives_beside_the_demo_database_and_starts_afresh_with_a_new_one(
    tmp_path,
):
    state = ["--state", str(tmp_path / "icontact-sandbox.json")]
    assert run.sandbox_state_args({}, tmp_path) == [*state, "--reset"]
    assert run.stale_database_note({}, tmp_path) is None

    (tmp_path / "demo.db").touch()  # a demo database from before the simulator kept state
    assert run.sandbox_state_args({}, tmp_path) == state
    assert "fail until you connect them again" in run.stale_database_note({}, tmp_path)
    (tmp_path / "icontact-sandbox.json").touch()
    assert run.stale_database_note({}, tmp_path) is None

    # Beside a database of the host's choosing the state is kept as it is.
    other = {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1/demo"}
    assert run.sandbox_state_args(other, tmp_path / "new") == [
        "--state",
        str(tmp_path / "new" / "icontact-sandbox.json"),
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT")
def test_ctrl_c_stops_everything_quietly_and_a_restart_finds_the_simulator_as_it_was(tmp_path):
    first = Demo(tmp_path)
    try:
        simulator = first.wait_until_ready()
        assert listening(first.port)
        demo_account(simulator).create_list("Made before the restart")
        time.sleep(2)  # the worker's scheduler and sweeper are running
        first.ctrl_c(timeout=15)
    finally:
        first.kill()
    # Everything stopped, in order (Redis after the worker), with nothing but the goodbye.
    assert "Traceback" not in first.output, first.output
    assert "Error" not in first.output.split("Stopping the demo")[-1], first.output
    assert not listening(first.port)
    assert not listening(int(simulator.split(":")[2].split("/")[0]))
    assert (tmp_path / "demo.db").exists() and (tmp_path / "icontact-sandbox.json").exists()

    second = Demo(tmp_path)
    try:
        simulator = second.wait_until_ready()
        names = [item.name for item in demo_account(simulator).lists()]
        second.ctrl_c()
    finally:
        second.kill()
    assert "Made before the restart" in names
    assert "Traceback" not in second.output, second.output
