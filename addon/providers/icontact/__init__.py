"""iContact: its client, its batched actions, and how it reads its settings and words its
refusals; registered with :func:`addon.providers.register` on import."""

from __future__ import annotations

from typing import TYPE_CHECKING

import urllib3

from .. import CredentialField, Provider, SetupStep, register
from ..base import Throttle
from . import batch, client, estimates, members, plan, session, sync

if TYPE_CHECKING:
    from ...settings import Settings


def _client(
    settings: Settings,
    username: str,
    password: str,
    account_id: str | None = None,
    client_folder_id: str | None = None,
    http: urllib3.PoolManager | None = None,
    throttle: Throttle | None = None,
) -> client.IContactClient:
    made = client.IContactClient(
        settings.icontact_api_url,
        settings.icontact_app_id,
        username,
        password,
        account_id=account_id,
        client_folder_id=client_folder_id,
        timeout=settings.icontact_timeout,
        http=http or _http(settings),
        throttle=throttle,
    )
    made.records_per_call = settings.icontact_batch_size
    return made


def _http(settings: Settings) -> urllib3.PoolManager:
    # A connection for every lookup in flight, or urllib3 discards (and warns about) the rest.
    return session.api_pool(settings.icontact_api_url, pool_size=settings.icontact_concurrency)


def _rejected_on_connect(settings: Settings) -> str:
    return (
        "iContact did not accept that username and application password. Check that you "
        f"enabled App ID {settings.icontact_app_id} for your account and typed the application "
        "password you chose there (not your login password)."
    )


def _setup_steps(settings: Settings) -> list[SetupStep]:
    return [
        SetupStep(
            "Open",
            link=("iContact's API page", settings.icontact_register_url),
            after="and sign in.",
        ),
        SetupStep("Register this App ID:", copy=settings.icontact_app_id, copy_name="the App ID"),
        SetupStep(
            "Choose an application password for it there. It is not your iContact login "
            "password: it lets only this integration in, and you can revoke it in iContact."
        ),
        SetupStep("Enter your iContact username and that application password here."),
    ]


CREDENTIALS = (
    CredentialField(
        "username",
        "iContact username",
        missing="Enter the username you sign in to iContact with.",
    ),
    CredentialField(
        "password",
        "Application password",
        "password",
        help="The password you chose for our App ID in iContact, not your login password.",
        missing="Enter the application password you chose in iContact.",
    ),
)

PROVIDER = register(
    Provider(
        name="icontact",
        display_name="iContact",
        make_client=_client,
        apply_actions=batch.apply_actions,
        make_http=_http,
        http_key=lambda settings: (settings.icontact_api_url, settings.icontact_concurrency),
        calls_per_minute=lambda settings: settings.icontact_calls_per_minute,
        lookup_threads=lambda settings: settings.icontact_concurrency,
        rejected_on_connect=_rejected_on_connect,
        credentials=CREDENTIALS,
        setup_title="Let us into your iContact account",
        setup_steps=_setup_steps,
        read_members=members.read_members,
        # A subscription in status "pending" waits for the person's confirmation (KB-SUB).
        double_opt_in=True,
        estimate_calls=estimates.estimate_calls,
        sync_contacts=sync.contact_pages,
        plan_action=plan.plan_action,
    )
)
