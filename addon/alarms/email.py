"""Alarm emails, through Flask-Mail and the host's ``MAIL_*`` settings (server, port, TLS,
credentials, default sender)."""

from __future__ import annotations

import logging
import smtplib

from flask import Flask, current_app
from flask_mail import Connection, Mail, Message

from ..settings import Settings
from . import OFF

log = logging.getLogger("addon.alarms")

#: Seconds to wait for the mail server at each step (connect, TLS, login, each command).
TIMEOUT = 10.0


class _TimedConnection(Connection):
    """Flask-Mail's connection with a timeout. Flask-Mail 0.10 opens SMTP without one: a mail
    server that takes the connection and never answers would hold the worker's alarm check,
    and the merchant's *Send a test alarm* request, for good."""

    def configure_host(self) -> smtplib.SMTP | smtplib.SMTP_SSL:
        mail = self.mail
        host_class = smtplib.SMTP_SSL if mail.use_ssl else smtplib.SMTP
        host = host_class(mail.server, mail.port, timeout=TIMEOUT)
        host.set_debuglevel(int(mail.debug))
        if mail.use_tls:
            host.starttls()
        if mail.username and mail.password:
            host.login(mail.username, mail.password)
        return host


def init_mail(app: Flask, settings: Settings) -> None:
    """Set Flask-Mail up from the app's ``MAIL_*`` settings, unless the host did already (then
    the alarms use the host's)."""
    if settings.alarm_email and "mail" not in app.extensions:
        Mail(app)


def send_email(
    settings: Settings, recipients: list[str | tuple[str, str]], subject: str, body: str
) -> str:
    """Email ``body`` to ``recipients``, inside an app context.

    Returns:
        What happened, in words: ``off``, ``sent to ...`` or ``not sent: why``.
    """
    if not settings.alarm_email:
        return OFF
    if not recipients:
        return "not sent: no email address is set up for alarms"
    mail = current_app.extensions.get("mail")
    sender = settings.alarm_email_sender or (mail.default_sender if mail else None)
    if mail is None or not sender:
        # The merchant reads the outcome; the host, this line, with the setting to give.
        log.warning("alarm email not sent: set MAIL_DEFAULT_SENDER or ADDON_ALARM_EMAIL_SENDER")
        return "not sent: email is not set up on this store (no sender address)"
    message = Message(subject=subject, recipients=list(recipients), body=body, sender=sender)
    try:
        with _TimedConnection(mail) as connection:
            message.send(connection)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("alarm email to %s not sent: %s", recipients, exc)
        return "not sent: the store's mail server could not be reached or refused it"
    return "sent to " + ", ".join(str(address) for address in recipients)
