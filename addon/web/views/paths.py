"""Path converters of the screens' URLs: the values a route accepts are the values the database
can hold, so an odd one is a 404 at routing time rather than an error in a query.

``<addon_id:...>`` is a row id; ``<addon_product:...>`` a host's product id, as events carry
them. :func:`register` adds both to the app's URL map before the screens' routes are added.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter, ValidationError

from ...engine.events import ID_PATTERN

#: The largest id the add-on's primary keys hold: they are ``Integer``, 32 bits on PostgreSQL
#: (a bigger id was a DataError there) and 64 on SQLite (beyond that, an OverflowError).
MAX_ID = 2**31 - 1


class IdConverter(BaseConverter):
    """A row id: ASCII digits without a leading zero, 1 to :data:`MAX_ID`.

    Werkzeug's ``int`` also takes other scripts' digits (``/logs/١٢`` was entry 12) and any
    number of them.
    """

    regex = r"[1-9][0-9]{0,9}"
    weight = 50  # like werkzeug's numbers: a number part sorts before a free text one

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


class ProductIdConverter(BaseConverter):
    """A product id as an event may carry it (``addon.engine.events``): 1-64 letters, digits and
    ``_ . : @ -``. A rule for any other id could never match an event."""

    regex = ID_PATTERN


CONVERTERS: dict[str, type[BaseConverter]] = {
    "addon_id": IdConverter,
    "addon_product": ProductIdConverter,
}


def _add_converters(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.update(CONVERTERS)


def register(bp: Blueprint) -> None:
    """Make the converters known to the app that registers ``bp``, before its routes are
    added (a rule looks its converters up when it is added)."""
    bp.record_once(_add_converters)
