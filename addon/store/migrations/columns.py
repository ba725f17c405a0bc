"""The keys, constraints and indexes the revisions write alike, named as the models' naming
convention (:data:`addon.store.models.NAMING_CONVENTION`) names them.

Frozen, like the revisions that call it: a tester's database may stand at any revision, and
each revision must go on building exactly the schema it built when it shipped. So nothing here
is ever edited, and nothing here reads the models (which change): a revision that needs another
shape gets a new function, and an old one stays as it is even when the models move on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem


def primary_key(table: str, column: str = "id") -> sa.PrimaryKeyConstraint:
    """``pk_<table>`` on ``column``."""
    return sa.PrimaryKeyConstraint(column, name=op.f(f"pk_{table}"))


def foreign_key(
    table: str, column: str, referred: str, *, ondelete: str
) -> sa.ForeignKeyConstraint:
    """``fk_<table>_<column>_<referred>``: ``column`` points at the ``id`` of ``referred``."""
    return sa.ForeignKeyConstraint(
        [column],
        [f"{referred}.id"],
        name=op.f(f"fk_{table}_{column}_{referred}"),
        ondelete=ondelete,
    )


def unique(table: str, *columns: str) -> sa.UniqueConstraint:
    """``uq_<table>_<column>_<column>...`` on ``columns`` together."""
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def key(table: str) -> tuple[SchemaItem, ...]:
    """The integer ``id`` column a table is keyed by, first in the table, and its primary key."""
    return (sa.Column("id", sa.Integer(), nullable=False), primary_key(table))


def integration_part(table: str) -> tuple[SchemaItem, ...]:
    """The key of a row that belongs to one integration and is deleted with it (the models'
    ``IntegrationPart``): :func:`key`, then ``integration_id`` and its foreign key."""
    return (
        *key(table),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        foreign_key(table, "integration_id", "addon_integration", ondelete="CASCADE"),
    )


def index_name(table: str, *columns: str) -> str:
    """``ix_<table>_<column>_<table>_<column>...``: each column's label, table first."""
    return "ix_" + "_".join(f"{table}_{column}" for column in columns)


def create_index(table: str, *columns: str) -> None:
    """A plain (not unique) index of ``table`` on ``columns``, in that order."""
    op.create_index(op.f(index_name(table, *columns)), table, list(columns), unique=False)


def drop_index(table: str, *columns: str) -> None:
    """Drop the index :func:`create_index` made."""
    op.drop_index(op.f(index_name(table, *columns)), table_name=table)
