"""Many-row statements whose parameters are converted for the driver ahead of time.

SQLAlchemy converts every row's values (datetimes to text on SQLite, dicts to JSON) while it
executes a statement. For a batch of hundreds of rows that is most of the statement's time,
and on SQLite a writing statement spends it holding the database's one write lock, which
every other worker then waits for. :func:`prepare` converts first, before the transaction
writes anything; :meth:`Prepared.execute` leaves the driver only its own work::

    inserts = prepare(insert(table_of(Delivery)), rows, dialect)  # no lock held
    ...                                                           # first write: lock taken
    inserts.execute(session.connection())                         # the driver's time only

The conversion is SQLAlchemy's own (the statement's compiled SQL and each bind's type
processor), so the rows written are the ones ``connection.execute(statement, rows)`` writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import ColumnDefault, Connection, Insert
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement, sqltypes
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True)
class Prepared:
    """Driver-ready SQL and one parameter set per row (tuples or dicts, as the driver takes)."""

    sql: str
    rows: list[Any] = field(default_factory=list)

    def only(self, keep: Iterable[bool]) -> Prepared:
        """The same statement for the rows whose flag is true (one flag per row, in order)."""
        return Prepared(self.sql, [row for row, kept in zip(self.rows, keep, strict=True) if kept])

    def execute(self, connection: Connection) -> int:
        """Run it once per row, in the connection's transaction; returns the rows it changed
        (all its runs', as the driver counts them)."""
        if not self.rows:
            return 0
        return connection.exec_driver_sql(self.sql, self.rows).rowcount


def prepare(
    statement: ClauseElement, rows: Sequence[Mapping[str, Any]], dialect: Dialect
) -> Prepared:
    """Compile ``statement`` for the keys of ``rows`` and convert every row's values.

    Every row must carry the same keys: the columns to write and the statement's own
    ``bindparam()`` names. An insert's column that the rows leave out takes its scalar
    default (as SQLAlchemy's own execution would); any other value the statement needs and a
    row lacks raises here, before anything is written.

    Raises:
        sqlalchemy.exc.InvalidRequestError: a row lacks a value the statement needs.
        ValueError: the statement has a parameter that expands per execution (``IN``).
    """
    if not rows:
        return Prepared("")
    defaults = _scalar_defaults(statement, rows[0])
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=list(rows[0])))
    if any(bind.expanding or bind.literal_execute for bind in compiled.binds.values()):
        raise ValueError("a statement with expanding parameters cannot be prepared")
    names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
    processors = [
        (i, process)
        for i, name in enumerate(names)
        if (process := _bind_processor(compiled.binds[name].type, dialect)) is not None
    ]
    keys = [compiled.escaped_bind_names.get(name, name) for name in names]
    first = {**defaults, **rows[0]}
    sample = compiled.construct_params(first)
    # Where every parameter is named after a key of the rows and takes its value as it is
    # (the statements of a batch), a row is read directly rather than through
    # construct_params, which was most of the conversion's time; checked on the first row.
    direct = all(name in first and sample[name] is first[name] for name in names)
    read = _reader(names)
    converted: list[Any] = []
    for row in rows:
        given = {**defaults, **row} if defaults else row
        try:
            values: Sequence[Any] = read(given if direct else compiled.construct_params(given))
        except KeyError:
            # A row that lacks a key: construct_params says what it lacks.
            values = read(compiled.construct_params(given))
        if processors:
            values = list(values)
            for i, process in processors:
                values[i] = process(values[i])
        converted.append(
            tuple(values) if compiled.positional else dict(zip(keys, values, strict=True))
        )
    return Prepared(str(compiled), converted)


def _reader(names: list[str]) -> Callable[[Mapping[str, Any]], Sequence[Any]]:
    """A function that reads the values of ``names`` from a row, in order, as a tuple (in one
    C call: a row is read once per parameter otherwise, and a batch has thousands)."""
    if len(names) == 1:
        return lambda row: (row[names[0]],)
    if not names:
        return lambda row: ()
    return itemgetter(*names)


def _bind_processor(type_: sqltypes.TypeEngine, dialect: Dialect):
    """The bind's conversion for the driver: SQLAlchemy's, but for SQLite's datetimes.

    SQLAlchemy writes a SQLite datetime by filling a format from a dict of its fields; a
    batch has a few per row, and they were a good share of its conversion. ``isoformat``
    writes the same text for a naive datetime in a third of the time; anything else (a date,
    a datetime with a zone, a custom storage format) is left to SQLAlchemy.
    """
    impl = type_.dialect_impl(dialect)
    process = impl.bind_processor(dialect)
    if (
        process is None
        or type(impl) is not SQLITE_DATETIME
        or impl._storage_format != SQLITE_DATETIME._storage_format
    ):
        return process

    def naive_iso_text(value: Any) -> Any:
        if value.__class__ is dt.datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return process(value)

    return naive_iso_text


def _scalar_defaults(statement: ClauseElement, row: Mapping[str, Any]) -> dict[str, Any]:
    """An insert's scalar column defaults for the columns ``row`` leaves out.

    The compiled insert names such a column anyway and leaves its value to the execution
    context, which :meth:`Prepared.execute` does not run: without this the row would hold NULL.
    """
    if not isinstance(statement, Insert):
        return {}
    return {
        column.key: column.default.arg
        for column in statement.table.columns
        if column.key not in row
        and isinstance(column.default, ColumnDefault)
        and column.default.is_scalar
    }
