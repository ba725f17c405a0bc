"""Trying a rule before trusting it: a dry run that shows the calls the provider would make
for a customer (nothing sent), and a real send to a test contact the merchant names.

Provider-neutral: the provider plans its calls (``Provider.plan_action``) and applies
the action through its usual batch; the engine adds what it knows itself (an email it would
refuse, the wait of an abandoned cart, a contact id it remembers). Neither writes a log entry:
a trial is not a storefront event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ..providers import (
    Action,
    Outcome,
    PlannedCall,
    ProviderError,
    RejectedCredentials,
    TemporaryFailure,
    get_provider,
)
from ..store.models import FAILED, Event, Rule
from .contact_sync import since_mark
from .contacts import known_contacts
from .context import Context
from .events import is_valid_email
from .integrations import client_for
from .triggers import PROSPECT

#: The key of a trial's one action in the provider's batch.
TRIAL = "trial"
#: The customer of a dry run when the merchant names none.
SAMPLE_EMAIL = "sample.customer@example.com"


@dataclass
class DryRun:
    """What applying the rule to one customer would do."""

    email: str
    #: Whether the customer is a real one (their latest event's name and phone are used).
    known_customer: bool
    #: What the engine itself would do first, in the merchant's words.
    notes: list[str] = field(default_factory=list)
    calls: list[PlannedCall] = field(default_factory=list)


@dataclass
class TestSend:
    """What applying the rule to a test contact did."""

    email: str
    status: str
    message: str
    calls: list[dict[str, Any]] = field(default_factory=list)


def dry_run(ctx: Context, rule: Rule, email: str | None) -> DryRun:
    """The calls the rule would make for ``email`` (a stored customer's, or any), without
    making one.

    Args:
        email: blank for a sample customer.
    """
    email = (email or "").strip() or SAMPLE_EMAIL
    customer = _stored_customer(ctx, rule.marketplace_id, email)
    trial = DryRun(email=email, known_customer=customer is not None)
    provider = get_provider(rule.integration.provider)
    if not is_valid_email(email):
        trial.notes.append(
            f"Nothing would be sent: {email!r} is not an email address {provider.display_name} "
            "could accept."
        )
        return trial
    if rule.trigger == PROSPECT:
        minutes = ctx.settings.prospect_delay // 60
        trial.notes.append(
            f"For a real abandoned cart this waits {minutes} minutes first, and is skipped if "
            "the customer buys in the meantime."
        )
    if provider.plan_action is None:
        trial.notes.append(
            f"{provider.display_name} cannot say in advance which calls it would get; "
            "send to a test contact instead."
        )
        return trial
    integration = rule.integration
    action = _action(rule, customer or {"email": email}, provider.double_opt_in)
    known = known_contacts(ctx, integration.id, [action.email_key]).get(action.email_key)
    trial.calls = provider.plan_action(
        integration.account_id, integration.client_folder_id, action, known
    )
    if known is None and provider.sync_contacts is not None:
        if since_mark(ctx, integration.id) is not None:
            trial.notes.append(
                f"Your {provider.display_name} contacts are kept in sync here: a real update "
                "checks once for contacts made since the last sync instead of looking this "
                "customer up."
            )
    return trial


def _action(rule: Rule, customer: dict[str, str], confirms: bool) -> Action:
    return Action(
        TRIAL,
        rule.action,
        customer,
        rule.list_id,
        list_name=rule.list_name,
        double_opt_in=confirms and rule.double_opt_in,
    )


def send_test(ctx: Context, rule: Rule, email: str) -> TestSend:
    """Apply the rule for real to the test contact ``email``, now, and say what happened.

    Raises:
        ValueError: ``email`` is not an email address.
    """
    email = email.strip()
    if not is_valid_email(email):
        raise ValueError(f"{email!r} is not an email address")
    integration = rule.integration
    provider = get_provider(integration.provider)
    action = _action(rule, {"email": email}, provider.double_opt_in)
    known = known_contacts(ctx, integration.id, [action.email_key])
    # The connection to the provider must not hold a database snapshot while it waits.
    ctx.session.commit()
    try:
        result = provider.apply_actions(
            client_for(ctx, integration), [action], known, lookup_threads=1
        )
    except RejectedCredentials as exc:
        return TestSend(email, FAILED, f"{exc}. Edit the integration, then try again.")
    except ProviderError as exc:  # the account's allowance stayed spent, the provider away
        return TestSend(email, FAILED, f"{exc}. Try again in a minute.")
    outcome = result.outcomes.get(TRIAL)
    calls = result.details.get(TRIAL) or result.calls
    if isinstance(outcome, Outcome):
        return TestSend(email, outcome.status, outcome.message, calls)
    if isinstance(outcome, TemporaryFailure):
        return TestSend(
            email, FAILED, f"{outcome}. A test is not tried again by itself; try again.", calls
        )
    if isinstance(outcome, ProviderError):
        return TestSend(email, FAILED, str(outcome), calls)
    return TestSend(email, FAILED, f"{provider.display_name} gave no answer for it.", calls)


def _stored_customer(ctx: Context, marketplace_id: str, email: str) -> dict[str, str] | None:
    """The customer as their latest event carried them (name, phone), if they are one."""
    payload = ctx.session.scalar(
        select(Event.payload)
        .where(Event.marketplace_id == marketplace_id, Event.email_key == email.lower())
        .order_by(Event.created_at.desc(), Event.id.desc())
        .limit(1)
    )
    customer = (payload or {}).get("customer")
    return dict(customer) if isinstance(customer, dict) else None
