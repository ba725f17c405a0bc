"""The calls iContact would get for one action, described without making any: a rule's dry
run shows them. They follow :mod:`.batch` and :mod:`.subscribers` (how a delivery is really
applied) call for call; ``tests/test_rule_trial.py`` holds the two together."""

from __future__ import annotations

from ..base import Action, PlannedCall
from .consent import PAGE
from .subscribers import contact_record

#: Stands for the contact's id in a path or body when only the lookup would tell it.
CONTACT = "{contact id}"


def plan_action(
    account_id: str, client_folder_id: str, action: Action, contact_id: str | None
) -> list[PlannedCall]:
    """The calls applying ``action`` would make, in order, each saying what it is for, when
    it is made only in some cases, and why it is skipped.

    Args:
        contact_id: the customer's contact id when the engine remembers it from an earlier
            delivery (the lookup is then skipped).
    """
    base = f"/a/{account_id}/c/{client_folder_id}"
    lookup = PlannedCall(
        "GET",
        f"{base}/contacts",
        "Find the customer's contact by email",
        params={"email": action.customer["email"], "status": "total", "limit": 1},
    )
    if action.action == "add":
        return _add(base, lookup, action, contact_id)
    return _remove(base, lookup, action, contact_id)


def _add(base: str, lookup: PlannedCall, action: Action, contact_id: str | None):
    known = f"skipped: contact {contact_id} is remembered from an earlier delivery"
    existing = None if contact_id else "only if the lookup finds the contact"
    if action.double_opt_in:
        check = PlannedCall(
            "GET",
            f"{base}/subscriptions/{action.list_id}_{contact_id or CONTACT}",
            "Check whether they were asked to confirm already, or confirmed",
            condition=existing,
        )
    else:
        check = PlannedCall(
            "GET",
            f"{base}/subscriptions",
            "Check that they did not unsubscribe from this list: no one who opted out is put back",
            params={"status": "unsubscribed", "listId": action.list_id, "limit": PAGE, "offset": 0},
            condition=existing,
        )
    return [
        lookup.but(skipped=known) if contact_id else lookup,
        check,
        PlannedCall(
            "POST",
            f"{base}/contacts",
            "Create the contact",
            body=[contact_record(action.customer)],
            skipped=known if contact_id else None,
            condition=None if contact_id else "only if the lookup finds no contact",
        ),
        PlannedCall(
            "POST",
            f"{base}/subscriptions",
            "Ask the contact to confirm joining the list (double opt-in)"
            if action.double_opt_in
            else "Subscribe the contact to the list",
            body=[
                {
                    "contactId": contact_id or CONTACT,
                    "listId": action.list_id,
                    "status": "pending" if action.double_opt_in else "normal",
                }
            ],
            condition="unless the check above finds they opted out"
            + (" or were asked already" if action.double_opt_in else ""),
        ),
    ]


def _remove(base: str, lookup: PlannedCall, action: Action, contact_id: str | None):
    subscription = f"{base}/subscriptions/{action.list_id}_{contact_id or CONTACT}"
    read = PlannedCall("GET", subscription, "Read the contact's subscription to the list")
    if contact_id:
        calls = [read, lookup.but(condition="only if no subscription is found under that id")]
    else:
        calls = [lookup, read.but(condition="only if the lookup finds the contact")]
    calls.append(
        PlannedCall(
            "POST",
            subscription,
            "Unsubscribe the contact from the list",
            body={"status": "unsubscribed"},
            condition="only if they are on the list and not unsubscribed already",
        )
    )
    return calls
