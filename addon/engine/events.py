"""Validation of storefront events: what each event type must and may carry."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidEvent
from .triggers import TRIGGER_NAMES

PURCHASE_TYPES = ("primary", "upsell", "order_bump", "payment_option")

# (required fields, optional fields) per event type, beyond marketplace and customer.
_SUBSCRIPTION: tuple[set[str], set[str]] = ({"subscription_id", "product_id"}, set())
EVENT_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "product.purchased": ({"product_id", "purchase_type"}, {"order_id", "prospect_id"}),
    "product.refunded": ({"product_id"}, {"order_id", "amount"}),
    "product.partially_refunded": ({"product_id"}, {"order_id", "amount"}),
    "prospect.created": ({"prospect_id", "product_id"}, set()),
    "subscription.canceled": _SUBSCRIPTION,
    "subscription.charged": _SUBSCRIPTION,
    "subscription.delinquent": _SUBSCRIPTION,
    "subscription.recovered": _SUBSCRIPTION,
    "subscription.restarted": _SUBSCRIPTION,
}
assert set(EVENT_FIELDS) == set(TRIGGER_NAMES)

CUSTOMER_FIELDS = ("email", "first_name", "last_name", "phone")
#: What an id (product, order, prospect...) may be; the screens' URLs accept the same.
ID_PATTERN = r"[A-Za-z0-9_.:@-]{1,64}"
_ID = re.compile(rf"^{ID_PATTERN}$")
# Deliberately loose: the provider is the judge of deliverability, this catches obvious junk.
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_MAX_TEXT = 100


def is_valid_email(email: str) -> bool:
    """Whether ``email`` looks like an address a provider could accept."""
    return len(email) <= 254 and bool(_EMAIL.match(email))


def _check_unicode(value: Any, field: str) -> None:
    """Refuse lone surrogates (valid in JSON escapes, not in UTF-8) before anything echoes them."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidEvent(f"{field} contains text that is not valid unicode", field) from None
        if "\x00" in value:
            # Databases (PostgreSQL) cannot store NUL in text.
            raise InvalidEvent(f"{field} contains a NUL character", field)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_unicode(key, field)
            _check_unicode(item, f"{field}.{key}" if isinstance(key, str) else field)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_unicode(item, field)


def _identifier(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidEvent(f"{field} must be a string or an integer", field)
    text = str(value).strip()
    if not _ID.match(text):
        raise InvalidEvent(
            f"{field} must be 1-64 characters of letters, digits and _ . : @ -", field
        )
    return text


def _customer(customer: Any) -> dict[str, str]:
    if not isinstance(customer, Mapping):
        raise InvalidEvent("customer must be an object with at least an email", "customer")
    unknown = set(customer) - set(CUSTOMER_FIELDS)
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidEvent(f"customer.{name} is not a known customer field", f"customer.{name}")
    email = customer.get("email")
    if not isinstance(email, str) or not email.strip():
        raise InvalidEvent("customer.email is required", "customer.email")
    if len(email) > 254:
        raise InvalidEvent("customer.email is longer than 254 characters", "customer.email")
    clean = {"email": email.strip()}
    for key in CUSTOMER_FIELDS[1:]:
        value = customer.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidEvent(f"customer.{key} must be a string", f"customer.{key}")
        if len(value) > _MAX_TEXT:
            raise InvalidEvent(
                f"customer.{key} is longer than {_MAX_TEXT} characters", f"customer.{key}"
            )
        clean[key] = value.strip()
    return clean


def _field(event_type: str, name: str, value: Any) -> Any:
    if name == "purchase_type":
        if value not in PURCHASE_TYPES:
            raise InvalidEvent(f"purchase_type must be one of {', '.join(PURCHASE_TYPES)}", name)
        return value
    if name == "amount":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise InvalidEvent("amount must be a finite number of at least 0", name)
        return value
    return _identifier(value, name)


def validate_event(
    event_type: Any,
    marketplace_id: Any,
    customer: Any,
    event_id: Any = None,
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Check one event and return its normalised form.

    Args:
        event_type: one of the nine event type names.
        marketplace_id: the merchant's marketplace.
        customer: ``{"email", "first_name", "last_name", "phone"}``; only ``email`` is required.
        event_id: the storefront's id for the event; generated when None.
        fields: the type's own fields (``product_id``, ``purchase_type``, ...).

    Returns:
        ``{"id", "type", "marketplace_id", "customer", "fields"}`` with clean values.

    Raises:
        InvalidEvent: naming the first field that is missing, unknown or of the wrong type.
    """
    _check_unicode(event_type, "type")
    _check_unicode(marketplace_id, "marketplace_id")
    _check_unicode(customer, "customer")
    _check_unicode(event_id, "id")
    for name, value in (fields or {}).items():
        _check_unicode(name, "event")
        _check_unicode(value, name)
    if not isinstance(event_type, str) or event_type not in EVENT_FIELDS:
        raise InvalidEvent(
            f"type {event_type!r} is not a known event type; expected one of "
            + ", ".join(EVENT_FIELDS),
            "type",
        )
    if marketplace_id is None or marketplace_id == "":
        raise InvalidEvent("marketplace_id is required", "marketplace_id")
    marketplace = _identifier(marketplace_id, "marketplace_id")
    clean_id = uuid.uuid4().hex if event_id is None else _identifier(event_id, "id")
    required, optional = EVENT_FIELDS[event_type]
    given = dict(fields or {})
    unknown = set(given) - required - optional
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidEvent(f"{name} is not a field of {event_type} events", name)
    clean_fields = {}
    for name in sorted(required):
        if given.get(name) is None:
            raise InvalidEvent(f"{name} is required for {event_type} events", name)
    for name, value in given.items():
        if value is not None:
            clean_fields[name] = _field(event_type, name, value)
    return {
        "id": clean_id,
        "type": event_type,
        "marketplace_id": marketplace,
        "customer": _customer(customer),
        "fields": clean_fields,
    }
