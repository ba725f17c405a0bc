"""``column IN (many values)`` with the values sent as one parameter.

SQLAlchemy's ``column.in_(values)`` makes a bound parameter of every value, and renders one
placeholder for each at every execution: for the few hundred ids or emails a worker's batch
reads and writes by, that costs more than the statement itself. :func:`among` sends the whole
list as one value instead, which the database unpacks (``json_each`` on SQLite, an array on
PostgreSQL); the statement's SQL is then the same whatever the number of values, and
SQLAlchemy compiles it once.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, String, any_, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY


def among(column: Any, values: Collection[Any], dialect: str) -> ColumnElement[bool]:
    """``column IN values``, with ``values`` (ints or strings) as one parameter.

    Args:
        column: the column (or ORM attribute) compared.
        values: the values it may have; an empty collection matches nothing.
        dialect: the database's dialect name (``session.get_bind().dialect.name``).
    """
    if dialect == "sqlite":
        packed = bindparam(None, json.dumps(list(values)), type_=String())
        return column.in_(select(literal_column("value")).select_from(func.json_each(packed)))
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))
