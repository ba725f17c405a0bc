"""Connecting, editing, refreshing and deleting a marketplace's provider integrations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import IntegrationError
from ..providers import (
    PROVIDERS,
    Provider,
    ProviderError,
    RejectedCredentials,
    RemoteList,
    TemporaryFailure,
    get_provider,
)
from ..store.models import (
    CONNECTED,
    NEEDS_ATTENTION,
    Delivery,
    Integration,
    ProviderList,
    Rule,
    marketplace_row,
)
from .contact_sync import enqueue_sync, forget_contacts
from .context import Context
from .logs import skip_pending
from .queue import enqueue_drain
from .ratelimit import TokenBucket

MAX_LABEL = 100


def get_integration(ctx: Context, marketplace_id: str, integration_id) -> Integration:
    """The marketplace's integration, or IntegrationError (another marketplace's id included)."""
    integration = marketplace_row(ctx.session(), Integration, marketplace_id, integration_id)
    if integration is None:
        raise IntegrationError("Unknown integration")
    return integration


def list_integrations(ctx: Context, marketplace_id: str) -> list[Integration]:
    """The marketplace's integrations, sorted by label."""
    query = (
        select(Integration)
        .where(Integration.marketplace_id == marketplace_id)
        .order_by(Integration.label)
    )
    return list(ctx.session.scalars(query))


def client_for(ctx: Context, integration: Integration, max_wait: float | None = 15.0):
    """A provider client for the integration's stored credentials, paced by the shared limiter.

    Args:
        max_wait: how long a call may wait for the account's allowance (None: workers wait
            as long as needed; a web request gives up after 15 s).
    """
    provider = get_provider(integration.provider)
    queue = ctx.queue
    throttle = None
    if queue is not None:
        throttle = TokenBucket(
            queue.connection,
            f"addon:ratelimit:{integration.provider}:{integration.account_id}",
            provider.calls_per_minute(ctx.settings),
            max_wait=max_wait,
            provider_name=provider.display_name,
            clock=ctx.clock,
        )
    return provider.make_client(
        ctx.settings,
        integration.username,
        ctx.vault.decrypt(integration.secret),
        account_id=integration.account_id,
        client_folder_id=integration.client_folder_id,
        http=shared_http(ctx, provider),
        throttle=throttle,
    )


def shared_http(ctx: Context, provider: Provider):
    """The provider's connection pool for this app and process (see
    :meth:`AppState.connections`). Proxy and CA settings are read from the environment
    when it is made, that is once per process."""
    key = (provider.name, provider.http_key(ctx.settings))
    return ctx.connections(key, lambda: provider.make_http(ctx.settings))


def _clean_label(
    ctx: Context, marketplace_id: str, label, provider: Provider, exclude_id: int | None = None
) -> str:
    text = (label or "").strip() if isinstance(label, str) else ""
    if not text:
        raise IntegrationError(
            f"Give the integration a label, for example 'Main {provider.display_name} account'.",
            "label",
        )
    if len(text) > MAX_LABEL:
        raise IntegrationError(f"The label is longer than {MAX_LABEL} characters.", "label")
    query = select(Integration.id).where(
        Integration.marketplace_id == marketplace_id, Integration.label == text
    )
    if exclude_id is not None:
        query = query.where(Integration.id != exclude_id)
    if ctx.session.execute(query).first():
        raise IntegrationError(
            f"An integration labelled {text!r} already exists in this marketplace. "
            "Choose another label.",
            "label",
        )
    return text


def _verify(ctx: Context, provider_name: str, username: str, password: str):
    """Open the account with these credentials; return ``(account, folder, lists)``."""
    provider = get_provider(provider_name)
    client = provider.make_client(ctx.settings, username, password, http=shared_http(ctx, provider))
    try:
        account_id, folder_id = client.discover()
        lists = client.lists()
    except RejectedCredentials:
        raise IntegrationError(provider.rejected_on_connect(ctx.settings), "password") from None
    except TemporaryFailure as exc:
        raise IntegrationError(
            f"Could not reach {provider.display_name} right now ({exc}). Nothing was saved; "
            "please try again in a minute."
        ) from None
    except ProviderError as exc:
        raise IntegrationError(f"{provider.display_name} refused the connection: {exc}") from None
    return account_id, folder_id, lists


def _require(value, what: str, field: str | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise IntegrationError(f"Enter the {what}.", field)
    return value.strip()


def connect(
    ctx: Context, marketplace_id: str, provider: str, *, label, username, password
) -> Integration:
    """Verify the credentials, fetch the lists and save a new integration.

    Raises:
        IntegrationError: unknown provider, missing field, label taken, credentials refused or
            provider unreachable; nothing is saved.
    """
    if provider not in PROVIDERS:
        raise IntegrationError(f"Unknown provider {provider!r}.")
    clean_label = _clean_label(ctx, marketplace_id, label, get_provider(provider))
    username = _require(username, "username", "username")
    password = _require(password, "application password", "password")
    account_id, folder_id, lists = _verify(ctx, provider, username, password)
    integration = Integration(
        marketplace_id=marketplace_id,
        provider=provider,
        label=clean_label,
        username=username,
        secret=ctx.vault.encrypt(password),
        account_id=account_id,
        client_folder_id=folder_id,
        status=CONNECTED,
    )
    _store_lists(ctx, integration, lists)
    db = ctx.session
    db.add(integration)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise IntegrationError(
            f"An integration labelled {clean_label!r} already exists in this marketplace."
        ) from None
    enqueue_sync(ctx, integration.id)
    return integration


def update_integration(
    ctx: Context, marketplace_id: str, integration_id, *, label=None, username=None, password=None
) -> Integration:
    """Rename an integration and/or replace its credentials.

    New credentials are verified before anything is changed; a blank password keeps the
    stored one, and an unchanged username with no password is not a credential change.
    Fixed credentials release the integration's held deliveries.

    Raises:
        IntegrationError: label taken or empty, or the new credentials refused; nothing saved.
    """
    integration = get_integration(ctx, marketplace_id, integration_id)
    new_label = None
    if label is not None:
        provider = get_provider(integration.provider)
        new_label = _clean_label(ctx, marketplace_id, label, provider, exclude_id=integration.id)
    new_username = username.strip() if isinstance(username, str) and username.strip() else None
    if new_username == integration.username:
        new_username = None
    new_password = password if isinstance(password, str) and password.strip() else None
    verified = None
    if new_username or new_password:
        user = new_username or integration.username
        secret = new_password or ctx.vault.decrypt(integration.secret)
        verified = (user, secret, *_verify(ctx, integration.provider, user, secret))
    if new_label is not None:
        integration.label = new_label
    if verified is not None:
        user, secret, account_id, folder_id, lists = verified
        if (account_id, folder_id) != (integration.account_id, integration.client_folder_id):
            # Another account: its contacts are not the cached ones (an email missing from
            # the cache could exist there, and creating it would blank its fields).
            forget_contacts(ctx, integration.id)
        integration.username = user
        integration.secret = ctx.vault.encrypt(secret)
        integration.account_id, integration.client_folder_id = account_id, folder_id
        _store_lists(ctx, integration, lists)
        integration.status, integration.status_reason = CONNECTED, None
    ctx.session.commit()
    if integration.status == CONNECTED:
        enqueue_drain(ctx.queue, integration.id)
    return integration


def refresh_lists(ctx: Context, marketplace_id: str, integration_id) -> Integration:
    """Re-fetch the integration's lists from the provider.

    Raises:
        IntegrationError: the provider refused or could not be reached.
    """
    integration = get_integration(ctx, marketplace_id, integration_id)
    try:
        lists = client_for(ctx, integration).lists()
    except RejectedCredentials as exc:
        mark_needs_attention(integration, str(exc))
        ctx.session.commit()
        raise IntegrationError(
            f"{get_provider(integration.provider).display_name} no longer accepts this "
            "integration's credentials. Edit the integration and enter a new application "
            "password."
        ) from None
    except ProviderError as exc:
        raise IntegrationError(f"Could not refresh the lists: {exc}") from None
    _store_lists(ctx, integration, lists)
    ctx.session.commit()
    return integration


def create_list(ctx: Context, marketplace_id: str, integration_id, name: str) -> ProviderList:
    """Create a list at the provider and cache it."""
    integration = get_integration(ctx, marketplace_id, integration_id)
    name = _require(name, "list name")
    try:
        remote = client_for(ctx, integration).create_list(name)
    except ProviderError as exc:
        raise IntegrationError(f"Could not create the list {name!r}: {exc}") from None
    cached = ProviderList(remote_id=remote.id, name=remote.name)
    integration.lists.append(cached)
    ctx.session.commit()
    return cached


def delete_integration(ctx: Context, marketplace_id: str, integration_id) -> None:
    """Delete an integration and its rules; its pending work is skipped, its log kept."""
    integration = get_integration(ctx, marketplace_id, integration_id)
    db = ctx.session
    skip_pending(
        ctx,
        Delivery.integration_id == integration.id,
        "the integration was deleted before this ran",
    )
    for rule in db.scalars(select(Rule).where(Rule.integration_id == integration.id)):
        db.delete(rule)
    db.delete(integration)
    db.commit()


def mark_needs_attention(integration: Integration, reason: str) -> None:
    integration.status = NEEDS_ATTENTION
    integration.status_reason = reason


def _store_lists(ctx: Context, integration: Integration, lists: list[RemoteList]) -> None:
    by_id = {item.remote_id: item for item in integration.lists}
    fresh = {remote.id: remote for remote in lists}
    for remote_id, cached in by_id.items():
        if remote_id not in fresh:
            integration.lists.remove(cached)
    for remote in lists:
        if remote.id in by_id:
            by_id[remote.id].name = remote.name
        else:
            integration.lists.append(ProviderList(remote_id=remote.id, name=remote.name))
    integration.lists_refreshed_at = ctx.clock.now()
