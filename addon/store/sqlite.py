"""SQLite writers that queue for the write lock instead of sleeping for it.

SQLite lets one connection write at a time. A connection that finds the lock taken sleeps in
growing steps (up to a tenth of a second) before it looks again, so with two worker processes
writing in turn, each spends much of its time asleep after the lock was already free.
:class:`QueuedWriterConnection` takes an advisory file
lock beside the database before its first write and drops it when the transaction ends; a
writer waiting for it retries every millisecond, so the lock changes hands as soon as it is
free. Connections that don't use it (another program, the ``sqlite3`` shell) still meet
SQLite's own lock and busy timeout, so correctness never depends on this class.

Use it through the engine options (the demo's ``wsgi.create_app`` does)::

    SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": queued_writer_connect_args(30)}
"""

from __future__ import annotations

import os
import sqlite3
import struct
import time
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's own busy handler does the waiting
    fcntl = None  # type: ignore[assignment]

#: How long a waiting writer sleeps between two looks at the lock.
POLL_SECONDS = 0.001
#: A writer checkpoints the WAL itself, once it has let the lock go, when this many pages wait
#: to be copied back (SQLite's own default): SQLite's automatic checkpoint runs inside the
#: COMMIT, so every other writer would wait for its copying and syncing.
CHECKPOINT_PAGES = 1000
#: SQLite's automatic checkpoint stays as the backstop, at this many WAL pages.
BACKSTOP_PAGES = 4000
_READS = ("SELECT", "PRAGMA", "EXPLAIN", "COMMIT", "END", "ROLLBACK", "RELEASE")


def may_write(sql: str) -> bool:
    """Whether a statement may take SQLite's write lock (when in doubt: yes).

    A deferred ``BEGIN`` takes no lock until its first write; the statements that end a
    transaction never need one (a reader's ``COMMIT`` must not queue behind a writer).
    """
    head = sql.lstrip()[:24].upper()
    if head.startswith("BEGIN"):
        return "IMMEDIATE" in head or "EXCLUSIVE" in head
    return not head.startswith(_READS)


def queued_writer_connect_args(timeout: float = 30.0) -> dict[str, Any]:
    """``connect_args`` for a file SQLite engine: queued writers, ``timeout`` seconds at most."""
    if fcntl is None:  # pragma: no cover - no advisory file locks on this platform
        return {"timeout": timeout}
    return {"factory": QueuedWriterConnection, "timeout": timeout}


class QueuedWriterConnection(sqlite3.Connection):
    """A ``sqlite3`` connection that holds a file lock for as long as it writes."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._timeout = float(kwargs.get("timeout", args[0] if args else 5.0))
        self._lock_fd: int | None = None
        self._locked = False
        self._shm_fd: int | None = None
        #: What the last checkpoint answered: (busy, WAL pages, pages checkpointed).
        self.last_checkpoint: tuple[int, int, int] | None = None
        self._path = path = os.fspath(database)
        if path and path != ":memory:" and not path.startswith("file:"):
            self._lock_fd = os.open(path + "-writer", os.O_RDWR | os.O_CREAT, 0o644)
            sqlite3.Connection.execute(self, f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or QueuedWriterCursor)

    # The C shortcuts make a plain cursor of their own: route them through ours.
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().executemany(sql, seq_of_parameters)

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().executescript(sql_script)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release(checkpoint=False)
            for fd in (self._lock_fd, self._shm_fd):
                if fd is not None:
                    os.close(fd)
            self._lock_fd = self._shm_fd = None

    # -- the lock ---------------------------------------------------------------------------

    def _before(self, sql: str) -> None:
        if self._lock_fd is None or self._locked or not may_write(sql):
            return
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    # As SQLite says it: the caller handles this like any busy database.
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(POLL_SECONDS)
            else:
                self._locked = True
                return

    def _after(self) -> None:
        # DDL and statements outside a transaction are done once they return.
        if self._locked and not self.in_transaction:
            self._release()

    def _release(self, checkpoint: bool = True) -> None:
        if not self._locked:
            return
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        self._locked = False
        if checkpoint and not self.in_transaction and self._wal_pages() >= CHECKPOINT_PAGES:
            self._checkpoint()

    def _wal_pages(self) -> int:
        """Pages in the WAL not copied back yet (0 outside WAL mode).

        Read from the WAL-index header in the ``-shm`` file, as SQLite documents it
        (https://www.sqlite.org/walformat.html): ``mxFrame`` at byte 16 and ``nBackfill`` at
        byte 96, in native byte order. One read, where a checkpoint call would sync files.
        """
        if self._shm_fd is None:
            try:
                self._shm_fd = os.open(self._path + "-shm", os.O_RDONLY)
            except OSError:
                return 0
        header = os.pread(self._shm_fd, 100, 0)
        if len(header) < 100:
            return 0
        (frames,) = struct.unpack_from("=I", header, 16)
        (copied,) = struct.unpack_from("=I", header, 96)
        return max(0, frames - copied)

    def _checkpoint(self) -> None:
        # PASSIVE: copies what no reader still needs and never waits for (or blocks) others.
        try:
            row = sqlite3.Connection.execute(self, "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:  # the backstop catches up
            return
        self.last_checkpoint = tuple(row) if row else None


class QueuedWriterCursor(sqlite3.Cursor):
    """Takes its connection's writer lock before a statement that may write."""

    connection: QueuedWriterConnection

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection._before(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            self.connection._after()

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection._before(sql)
        try:
            return super().executemany(sql, seq_of_parameters)
        finally:
            self.connection._after()

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection._before("script")
        try:
            return super().executescript(sql_script)
        finally:
            self.connection._after()
