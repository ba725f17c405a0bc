"""An insert that updates the row its key already names, on the databases that have one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute

from .models import Base


def upsert(
    dialect: str,
    model: type[Base],
    key: Sequence[InstrumentedAttribute[Any]],
    update: Sequence[str],
) -> Any:
    """``INSERT … ON CONFLICT (key) DO UPDATE SET update = excluded.update`` for ``model``.

    A database without a portable upsert gets a plain insert: a concurrent writer of the
    same key then fails the batch's write, which is retried like any other failed write.
    """
    upserting = {"postgresql": postgresql, "sqlite": sqlite}.get(dialect)
    if upserting is None:
        return insert(model)
    statement = upserting.insert(model)
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={column: statement.excluded[column] for column in update},
    )
