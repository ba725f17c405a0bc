"""SQLite writers queue for the write lock (a file lock beside the database) instead of
sleeping in SQLite's busy handler; readers never take it."""

import fcntl
import os
import sqlite3
import threading

import pytest

from addon.store.sqlite import QueuedWriterConnection, queued_writer_connect_args


@pytest.fixture
def database(tmp_path):
    path = str(tmp_path / "shop.db")
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (n INTEGER)")
    return path


def connect(path, timeout=5.0):
    return sqlite3.connect(path, **queued_writer_connect_args(timeout), check_same_thread=False)


def writer_lock_is_free(path) -> bool:
    fd = os.open(path + "-writer", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_a_write_holds_the_lock_until_its_transaction_ends(database):
    conn = connect(database)
    assert isinstance(conn, QueuedWriterConnection)
    conn.execute("SELECT count(*) FROM t").fetchall()
    assert writer_lock_is_free(database)  # reads never queue
    conn.execute("INSERT INTO t VALUES (1)")
    assert not writer_lock_is_free(database)
    conn.commit()
    assert writer_lock_is_free(database)
    conn.executemany("INSERT INTO t VALUES (?)", [(2,), (3,)])
    assert not writer_lock_is_free(database)
    conn.rollback()
    assert writer_lock_is_free(database)
    assert conn.execute("SELECT n FROM t ORDER BY n").fetchall() == [(1,)]
    conn.close()


def test_explicit_transactions_lock_at_their_first_write_and_readers_never_queue(database):
    conn = connect(database)
    conn.isolation_level = None  # the application says BEGIN and COMMIT itself
    conn.execute("BEGIN")
    conn.execute("SELECT count(*) FROM t").fetchall()
    assert writer_lock_is_free(database)
    conn.execute("COMMIT")
    conn.execute("BEGIN IMMEDIATE")
    assert not writer_lock_is_free(database)
    conn.execute("ROLLBACK")
    assert writer_lock_is_free(database)

    writer, reader = connect(database), connect(database, timeout=0.05)
    writer.execute("INSERT INTO t VALUES (1)")
    reader.isolation_level = None
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
    reader.execute("COMMIT")  # would time out if a reader's COMMIT queued for the lock
    writer.commit()


def test_statements_outside_a_transaction_release_the_lock_when_they_return(database):
    conn = connect(database)
    conn.execute("CREATE TABLE u (n INTEGER)")
    assert writer_lock_is_free(database)
    conn.close()


def test_a_second_writer_waits_for_the_first_and_then_writes(database):
    first, second = connect(database), connect(database)
    first.execute("INSERT INTO t VALUES (1)")
    wrote = threading.Event()

    def write():
        second.execute("INSERT INTO t VALUES (2)")
        second.commit()
        wrote.set()

    thread = threading.Thread(target=write)
    thread.start()
    assert not wrote.wait(0.2)  # queued behind the open transaction, not failed
    first.commit()
    thread.join(5)
    assert wrote.is_set()
    assert first.execute("SELECT n FROM t ORDER BY n").fetchall() == [(1,), (2,)]


def test_a_writer_that_waits_past_its_timeout_gets_sqlites_own_error(database):
    first, second = connect(database), connect(database, timeout=0.05)
    first.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        second.execute("INSERT INTO t VALUES (2)")
    first.commit()
    second.execute("INSERT INTO t VALUES (2)")  # and it is usable afterwards
    second.commit()


def test_closing_a_connection_mid_transaction_frees_the_lock(database):
    conn = connect(database)
    conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    assert writer_lock_is_free(database)


def test_writers_checkpoint_the_wal_themselves_once_they_have_let_the_lock_go(
    database, monkeypatch
):
    """SQLite's automatic checkpoint runs inside a COMMIT, while every other writer waits;
    a writer checkpoints after its turn instead, once enough pages wait in the WAL."""
    from addon.store import sqlite as queued

    monkeypatch.setattr(queued, "CHECKPOINT_PAGES", 10)
    lock_free_at_checkpoint = []
    real = QueuedWriterConnection._checkpoint

    def spy(self):
        lock_free_at_checkpoint.append(writer_lock_is_free(database))
        real(self)

    monkeypatch.setattr(QueuedWriterConnection, "_checkpoint", spy)
    conn = connect(database)
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (queued.BACKSTOP_PAGES,)
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    assert lock_free_at_checkpoint == []  # a small write leaves the WAL for later
    for n in range(10):
        conn.execute("INSERT INTO t VALUES (?)", (n,))
        conn.execute("CREATE TABLE IF NOT EXISTS big (b BLOB)")
        conn.execute("INSERT INTO big VALUES (?)", (b"x" * 20_000,))  # several pages
        conn.commit()
    assert lock_free_at_checkpoint and all(lock_free_at_checkpoint)
    busy, wal_pages, copied = conn.last_checkpoint
    assert busy == 0 and wal_pages >= 10 and copied == wal_pages
    assert len(lock_free_at_checkpoint) < 10  # not after every write
    conn.close()


def test_an_in_memory_database_takes_no_lock(tmp_path):
    conn = sqlite3.connect(":memory:", **queued_writer_connect_args())
    conn.execute("CREATE TABLE t (n INTEGER)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    assert not list(tmp_path.iterdir())


def test_the_demo_apps_sqlite_engine_queues_its_writers(app):
    with app.app_context():
        db_engine = app.extensions["addon"].db.engine
        if db_engine.dialect.name != "sqlite":
            pytest.skip("the suite runs on another database")
        raw = db_engine.raw_connection()
        try:
            assert isinstance(raw.driver_connection, QueuedWriterConnection)
        finally:
            raw.close()
