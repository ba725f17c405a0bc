"""How stored records look on the wire, and the checks on incoming field values.

The real service answers a write with ``""`` for unset fields but a read with ``null``, and
sends the list flags as ints after a create but (per older fixtures) as strings when read;
both styles are reproduced so a client has to cope with either.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from datetime import datetime

from . import messages

#: Contact fields a client may write (besides ``status``).
CONTACT_FIELDS = (
    "prefix",
    "firstName",
    "lastName",
    "suffix",
    "street",
    "street2",
    "city",
    "state",
    "postalCode",
    "phone",
    "fax",
    "business",
    "email",
)
#: Key order of a contact echoed after a write (recorded).
CONTACT_ECHO_KEYS = ("contactId", *CONTACT_FIELDS, "createDate", "bounceCount", "status")
#: Key order of a contact read back (recorded; that recording has no ``business`` key).
CONTACT_READ_KEYS = (
    "email",
    "firstName",
    "lastName",
    "prefix",
    "suffix",
    "fax",
    "phone",
    "street",
    "street2",
    "city",
    "state",
    "postalCode",
    "createDate",
    "status",
    "bounceCount",
    "contactId",
)
#: Server-assigned contact fields that a write may carry but cannot change.
CONTACT_READ_ONLY = ("contactId", "createDate", "bounceCount")
#: Contact statuses a client may set (recorded 400 text names exactly these).
SETTABLE_CONTACT_STATUSES = ("normal", "donotcontact")
#: Every contact status the service knows (PHP, MZ, PD); ``deleted`` is what DELETE does.
CONTACT_STATUSES = ("normal", "bounced", "donotcontact", "pending", "invitable")
#: Contact statuses a client cannot change away from (AE-data-model).
LOCKED_CONTACT_STATUSES = ("donotcontact", "pending", "invitable")
#: Contact statuses whose contact takes no subscription that would mail it (a choice: the
#: reference is silent; see the package docstring of ``subscriptions``).
UNSUBSCRIBABLE_CONTACT_STATUSES = ("donotcontact", "bounced")

LIST_TEXT_FIELDS = ("name", "publicname", "description", "welcomeMessageId")
LIST_FLAGS = ("emailOwnerOnChange", "welcomeOnManualAdd", "welcomeOnSignupAdd")
LIST_KEYS = ("listId", "name", "publicname", "description", *LIST_FLAGS, "welcomeMessageId")

SUBSCRIPTION_KEYS = ("addDate", "contactId", "listId", "status", "subscriptionId")
SUBSCRIPTION_STATUSES = ("normal", "pending", "unsubscribed")

# Deliberately simple: one @, no spaces, a dotted domain with a 2+ letter top level.
_EMAIL = re.compile(r"^[^@\s,;<>()\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*\.)+[A-Za-z]{2,}$")
_NUMERIC = re.compile(r"^[0-9]+$")


def contact_echo(record: dict) -> dict:
    """A contact as returned by a write: unset fields are ``""``."""
    return {key: "" if record.get(key) is None else record[key] for key in CONTACT_ECHO_KEYS}


def contact_read(record: dict) -> dict:
    """A contact as returned by a read: unset fields are ``null``."""
    view = {key: record.get(key) for key in CONTACT_READ_KEYS}
    if record.get("business") is not None:
        view["business"] = record["business"]
    return view


def list_echo(record: dict) -> dict:
    """A list as returned by a write (flags as ints, as recorded)."""
    return {key: record[key] for key in LIST_KEYS}


def list_read(record: dict) -> dict:
    """A list as returned by a read (every value a string)."""
    return {key: str(record[key]) for key in LIST_KEYS}


def subscription_view(record: dict) -> dict:
    """A subscription as returned by reads and writes alike."""
    return {key: record[key] for key in SUBSCRIPTION_KEYS}


def split_subscription_id(subscription_id: str) -> tuple[str, str]:
    """``(listId, contactId)`` of a subscription id, ``{listId}_{contactId}`` on the wire."""
    list_id, _, contact_id = subscription_id.partition("_")
    return list_id, contact_id


def is_valid_email(value: object) -> bool:
    """Whether ``value`` looks like an email address the service would take."""
    return isinstance(value, str) and len(value) <= 254 and bool(_EMAIL.match(value))


def as_text(value: object) -> str | None:
    """A field value as the string the service stores (numbers become text)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def as_flag(value: object) -> int | None:
    """``0``/``1`` from an int, bool or ``"0"``/``"1"``; ``None`` when it is neither."""
    text = as_text(value)
    return int(text) if text in ("0", "1") else None


def as_id(value: object) -> str | None:
    """A numeric id (int or digit string) as a string; ``None`` when it is not one."""
    if isinstance(value, bool):
        return None
    text = str(value).strip() if isinstance(value, (int, str)) else ""
    return text if _NUMERIC.match(text) else None


def local_now() -> datetime:
    """The wall clock as an aware local datetime (the simulator's default ``now``)."""
    return datetime.now().astimezone()


def create_date(now: datetime | None = None) -> str:
    """``now`` in the contact ``createDate`` format (local time, no zone; recorded)."""
    return (now or local_now()).strftime("%Y-%m-%d %H:%M:%S")


def add_date(now: datetime | None = None) -> str:
    """``now`` in the subscription ``addDate`` format (ISO 8601 with offset; recorded)."""
    return (now or local_now()).isoformat(timespec="seconds")


#: What a field reader answers for a key that is no writable field of the record.
NOT_A_FIELD = object()


class BadValue(ValueError):
    """A field value that spoils the whole record; its message is the service's."""


def sort_fields(
    item: object, read: Callable[[str, object], object], read_only: Collection[str]
) -> tuple[dict, list[str], str | None]:
    """Sort one incoming record into usable values, warnings and a fatal problem.

    Args:
        read: ``read(key, raw)`` answers the value to keep, or :data:`NOT_A_FIELD`, or raises
            :class:`BadValue`.
        read_only: keys that are fields but not writable (warned as such, not as unknown).

    Returns:
        ``(values, warnings, problem)``; when ``problem`` is set the record must not be saved.
    """
    if not isinstance(item, dict):
        return {}, [], messages.NOT_AN_OBJECT
    values: dict = {}
    ignored, immutable = [], []
    for key, raw in item.items():
        try:
            value = read(key, raw)
        except BadValue as error:
            return {}, [], str(error)
        if value is not NOT_A_FIELD:
            values[key] = value
        elif key in read_only:
            immutable.append(key)
        else:
            ignored.append(key)
    return values, messages.unsaved_fields(ignored, immutable), None


def accepted(
    items: list, check: Callable[[object], tuple[dict, list[str], str | None]], warnings: list[str]
) -> Iterator[dict]:
    """The values of each record of a batch that ``check`` accepts; every record's warnings,
    and each rejected one's problem, go to ``warnings`` (a batch never fails)."""
    for item in items:
        values, notes, problem = check(item)
        warnings.extend(notes)
        if problem:
            warnings.append(problem)
            continue
        yield values
