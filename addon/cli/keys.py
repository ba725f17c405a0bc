"""``flask addon rotate-key``: stored passwords moved to the newest encryption key."""

from __future__ import annotations

import click

from ..state import settings, state


@click.command("rotate-key", short_help="Move stored passwords to the newest encryption key.")
def rotate_key_command() -> None:
    """Re-encrypt every stored iContact password under the newest ADDON_ENCRYPTION_KEY.

    \b
    To replace the key:
      1. Make a new one:
         python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
      2. Put it first and keep the old one after it, ADDON_ENCRYPTION_KEY="NEW,OLD",
         then restart the web app and the workers (both keys now decrypt).
      3. Run: flask addon rotate-key
      4. Remove OLD from ADDON_ENCRYPTION_KEY and restart again.

    All or nothing: when a password cannot be decrypted with any of the keys, nothing changes.
    """
    from cryptography.fernet import InvalidToken
    from sqlalchemy import select

    from ..store.models import Integration

    vault, session = state().vault, state().db.session
    keys = [key for key in (settings().encryption_key or "").split(",") if key.strip()]
    if len(keys) < 2:
        click.echo(
            'ADDON_ENCRYPTION_KEY holds one key: put the new key first, "NEW,OLD", to move '
            "the passwords to it.",
            err=True,
        )
    # Locked rows: a merchant saving a new password meanwhile waits rather than being undone.
    integrations = session.scalars(
        select(Integration).order_by(Integration.id).with_for_update()
    ).all()
    unreadable = []
    for integration in integrations:
        try:
            integration.secret = vault.rotate(integration.secret)
        except InvalidToken:
            unreadable.append(
                f"#{integration.id} {integration.label!r} ({integration.marketplace_id})"
            )
    if unreadable:
        session.rollback()
        raise click.ClickException(
            "No key in ADDON_ENCRYPTION_KEY decrypts the password of integration(s) "
            + ", ".join(unreadable)
            + ". Add the key they were saved with; nothing was changed."
        )
    session.commit()
    click.echo(f"Re-encrypted {len(integrations)} stored password(s) under the newest key.")
