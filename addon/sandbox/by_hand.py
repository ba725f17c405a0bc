"""What the account owner does by hand in iContact's own screens, behind the add-on's back:
takes a contact off a list, or puts one on. Tests and the benchmark use it to make a list
drift from what the add-on's rules imply (``POST /icp/_sandbox/remove-by-hand`` and
``/add-by-hand``).

Taking a contact off a list by hand deletes the subscription (the person did not unsubscribe,
so nothing says they opted out); an unsubscribe by the person is :mod:`consent`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .consent import NotFoundError, find_subscription
from .contacts import _new_contact
from .records import add_date

if TYPE_CHECKING:
    from .state import SandboxState


def removes_by_hand(
    state: SandboxState, list_id: str, contact_id: str | None = None, *, email: str | None = None
) -> dict:
    """The owner deletes the contact's subscription to ``list_id``.

    Returns:
        The deleted record.

    Raises:
        NotFoundError: if there is no such subscription.
    """
    with state.lock:
        account, record = find_subscription(state, list_id, contact_id, email)
        del account.subscriptions[(str(record["listId"]), str(record["contactId"]))]
        state.autosave()
        return dict(record)


def adds_by_hand(state: SandboxState, list_id: str, email: str) -> dict:
    """The owner puts ``email`` on ``list_id`` (creating the contact if needed), subscribed.

    Returns:
        The subscription record.

    Raises:
        NotFoundError: if there is no such list.
    """
    with state.lock:
        account = state.account_for_list(list_id)
        if account is None:
            raise NotFoundError("No such list")
        contact_id = account.emails.get(email.lower())
        if contact_id is None:
            contact_id = _new_contact(state, account, {"email": email})["contactId"]
        record = {
            "addDate": add_date(state.now()),
            "contactId": contact_id,
            "listId": str(list_id),
            "status": "normal",
            "subscriptionId": f"{list_id}_{contact_id}",
        }
        account.subscriptions[(str(list_id), contact_id)] = record
        state.autosave()
        return dict(record)
