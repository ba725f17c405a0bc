"""One subscriber, as the engine's actions mean it: the contact record of a customer and the
removal of a customer from a list, with the words its outcome is logged in."""

from __future__ import annotations

from typing import Any

from ..base import NotFound, Outcome
from .client import IContactClient


def contact_record(customer: dict[str, str]) -> dict[str, str]:
    """The iContact contact fields for a customer; blanks left out so nothing is overwritten."""
    record = {
        "email": customer["email"],
        "firstName": customer.get("first_name") or "",
        "lastName": customer.get("last_name") or "",
        "phone": customer.get("phone") or "",
    }
    return {key: value for key, value in record.items() if value}


def remove_subscriber(
    client: IContactClient, email: str, list_id: str, contact_id: str | None = None
) -> Outcome:
    """Unsubscribe the contact from the list; absent contact or subscription is skipped.

    Args:
        contact_id: the contact's id when the caller has it cached; it is checked (a stale
            id falls back to a lookup by email).
    """
    subscription: dict[str, Any] | None = None
    if contact_id is not None:
        subscription = client.get_subscription(list_id, contact_id)
    if subscription is None:
        contact = client.find_contact(email)
        if contact is None:
            return Outcome("skipped", "skipped: no iContact contact has this email")
        contact_id = str(contact["contactId"])
        subscription = client.get_subscription(list_id, contact_id)
    assert contact_id is not None  # set by the lookup above
    detail = {"contactId": contact_id}
    if subscription is None:
        if not client.list_exists(list_id):
            raise NotFound("The list no longer exists in iContact")
        return Outcome("skipped", "skipped: the contact is not on this list", detail)
    if subscription.get("status") == "unsubscribed":
        return Outcome(
            "skipped", "skipped: the contact was already unsubscribed from this list", detail
        )
    client.unsubscribe(list_id, contact_id)
    return Outcome("success", f"Unsubscribed contact {contact_id} from list {list_id}", detail)
