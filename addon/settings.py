"""The add-on's settings, typed and checked once when ``init_app`` registers the engine.

The host configures the add-on through ``app.config`` (and the environment, see
:mod:`addon.environment`); the defaults live in :mod:`addon.config` alone. ``init_app`` turns
those ``ADDON_*`` keys into one :class:`Settings`, so a wrong value stops the app at start-up
with a message naming the key, instead of a worker failing on it at three in the morning.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


def _key(name: str, check: str = "", *, secret: bool = False) -> Any:
    """A field read from the ``app.config`` key ``name``; ``check`` is one of the checks
    below (``positive``: above zero; ``not_negative``: zero or more; ``hour``: 0-23;
    ``percent``: 1 to 100; ``timeout``: a pair)."""
    return field(metadata={"key": name, "check": check}, repr=not secret)


@dataclass(frozen=True)
class Settings:
    """Every ``ADDON_*`` setting, typed; docs/settings.md says what each one does."""

    url_prefix: str = _key("ADDON_URL_PREFIX")
    blueprint_name: str = _key("ADDON_BLUEPRINT_NAME")
    redis_url: str | None = _key("ADDON_REDIS_URL")
    queue_name: str = _key("ADDON_QUEUE")
    icontact_api_url: str = _key("ADDON_ICONTACT_API_URL")
    icontact_app_id: str = _key("ADDON_ICONTACT_APP_ID")
    icontact_register_url: str = _key("ADDON_ICONTACT_REGISTER_URL")
    icontact_calls_per_minute: int = _key("ADDON_ICONTACT_CALLS_PER_MINUTE", "positive")
    icontact_concurrency: int = _key("ADDON_ICONTACT_CONCURRENCY", "positive")
    icontact_batch_size: int = _key("ADDON_ICONTACT_BATCH_SIZE", "positive")
    icontact_page_size: int = _key("ADDON_ICONTACT_PAGE_SIZE", "positive")
    contact_sync_hours: int = _key("ADDON_CONTACT_SYNC_HOURS", "not_negative")
    #: Seconds (connect, read).
    icontact_timeout: tuple[float, float] = _key("ADDON_ICONTACT_TIMEOUT", "timeout")
    encryption_key: str | None = _key("ADDON_ENCRYPTION_KEY", secret=True)
    webhook_secret: str | None = _key("ADDON_WEBHOOK_SECRET", secret=True)
    webhook_tolerance: int = _key("ADDON_WEBHOOK_TOLERANCE", "positive")
    webhook_max_bytes: int = _key("ADDON_WEBHOOK_MAX_BYTES", "positive")
    prospect_delay: int = _key("ADDON_PROSPECT_DELAY", "not_negative")
    log_limit: int = _key("ADDON_LOG_LIMIT", "positive")
    event_retention_days: int = _key("ADDON_EVENT_RETENTION_DAYS", "positive")
    #: UTC hour of the nightly check and pruning; None: no nightly run.
    check_hour: int | None = _key("ADDON_CHECK_HOUR", "hour")
    claim_batch: int = _key("ADDON_CLAIM_BATCH", "positive")
    claim_batch_max: int = _key("ADDON_CLAIM_BATCH_MAX", "positive")
    lease_seconds: int = _key("ADDON_LEASE_SECONDS", "positive")
    parallel_drains: int = _key("ADDON_PARALLEL_DRAINS", "positive")
    drain_seconds: float = _key("ADDON_DRAIN_SECONDS", "positive")
    #: Whole seconds: it is also the expiry of a Redis lock, which takes no fraction.
    sweep_interval: int = _key("ADDON_SWEEP_INTERVAL", "positive")
    retry_window: int = _key("ADDON_RETRY_WINDOW", "not_negative")
    stuck_minutes: int = _key("ADDON_STUCK_MINUTES", "positive")
    failing_min_failures: int = _key("ADDON_FAILING_MIN_FAILURES", "positive")
    failing_percent: int = _key("ADDON_FAILING_PERCENT", "percent")
    alarm_email: bool = _key("ADDON_ALARM_EMAIL")
    alarm_email_sender: str | None = _key("ADDON_ALARM_EMAIL_SENDER")
    alarm_recipients: str | None = _key("ADDON_ALARM_RECIPIENTS")
    alarm_webhook_url: str | None = _key("ADDON_ALARM_WEBHOOK_URL")
    alarm_webhook_secret: str | None = _key("ADDON_ALARM_WEBHOOK_SECRET", secret=True)
    alarm_digest_hours: int = _key("ADDON_ALARM_DIGEST_HOURS", "positive")
    login_endpoint: str | None = _key("ADDON_LOGIN_ENDPOINT")
    product_endpoint: str | None = _key("ADDON_PRODUCT_ENDPOINT")
    content_security_policy: str = _key("ADDON_CONTENT_SECURITY_POLICY")
    csp_in_host_layout: bool = _key("ADDON_CSP_IN_HOST_LAYOUT")
    base_template: str = _key("ADDON_BASE_TEMPLATE")
    include_htmx: bool = _key("ADDON_INCLUDE_HTMX")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read and check every setting from ``config`` (an ``app.config`` with the defaults
        already filled in).

        Args:
            config: has every key in :func:`addon.environment.setting_names`.

        Returns:
            The typed settings.

        Raises:
            ValueError: naming the first key whose value has the wrong type or range, the
                value, and what it must be.
            KeyError: a setting missing from ``config``.
        """
        hints = _field_types()
        values = {}
        for item in fields(cls):
            key = item.metadata["key"]
            values[item.name] = _checked(key, config[key], hints[item.name], item.metadata["check"])
        if values["alarm_webhook_url"] and not values["alarm_webhook_secret"]:
            # An unsigned alarm could be forged by anyone who finds the host's endpoint.
            raise ValueError(
                "ADDON_ALARM_WEBHOOK_URL is set without ADDON_ALARM_WEBHOOK_SECRET: "
                "give the secret that signs the alarms"
            )
        return cls(**values)

    @staticmethod
    def key_of(name: str) -> str:
        """The ``app.config`` key of the field ``name`` (``log_limit`` → ``ADDON_LOG_LIMIT``)."""
        for item in fields(Settings):
            if item.name == name:
                return str(item.metadata["key"])
        raise AttributeError(name)


def _field_types() -> dict[str, str]:
    # With postponed annotations each field's type is its text, which is all the checks need.
    return {item.name: str(item.type) for item in fields(Settings)}


def _checked(key: str, value: Any, kind: str, check: str) -> Any:
    """``value`` of ``key`` if it fits ``kind`` and ``check``, else ValueError saying why."""
    if check == "timeout":
        return _timeout(key, value)
    optional = kind.endswith(" | None")
    base = kind.removesuffix(" | None")
    if value is None and optional:
        return None
    if base == "bool":
        if isinstance(value, bool):
            return value
        raise ValueError(f"{key}={value!r}: expected True or False")
    if base == "str":
        if isinstance(value, str):
            return value
        expected = "text or None" if optional else "text"
        raise ValueError(f"{key}={value!r}: expected {expected}")
    # Numbers. A bool is an int to Python but never what a host meant here.
    whole = base == "int"
    ok = isinstance(value, int) if whole else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or (not whole and not math.isfinite(value)):
        raise ValueError(f"{key}={value!r}: expected {_number(whole, check)}")
    if (
        (check == "positive" and value <= 0)
        or (check == "not_negative" and value < 0)
        or (check == "hour" and not 0 <= value <= 23)
        or (check == "percent" and not 0 < value <= 100)
    ):
        raise ValueError(f"{key}={value!r}: expected {_number(whole, check)}")
    return value


def _number(whole: bool, check: str) -> str:
    noun = "a whole number" if whole else "a number"
    if check == "positive":
        return f"{noun} above zero"
    if check == "not_negative":
        return f"{noun} of zero or more"
    if check == "hour":
        return "an hour of the day, 0 to 23, or None"
    if check == "percent":
        return f"{noun} from 1 to 100"
    return noun


def _timeout(key: str, value: Any) -> tuple[float, float]:
    """A (connect, read) pair of positive seconds; one number means both."""
    pair = (value, value) if isinstance(value, int | float) else value
    if (
        isinstance(pair, tuple | list)
        and len(pair) == 2
        and all(
            isinstance(part, int | float)
            and not isinstance(part, bool)
            and math.isfinite(part)
            and part > 0
            for part in pair
        )
    ):
        return (float(pair[0]), float(pair[1]))
    raise ValueError(
        f"{key}={value!r}: expected (connect, read) seconds, two numbers above zero, or one "
        "for both"
    )
