"""``ADDON_*`` settings from environment variables, typed like their defaults.

``IntegrationEngine.init_app`` reads them for every key the app's config does not set (the app
config wins), so a host configures the add-on in ``config.py``, in its environment, or both.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from . import config as defaults

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


#: Number settings that None turns off (``ADDON_CHECK_HOUR=off``).
_MAY_BE_NONE = {"ADDON_CHECK_HOUR"}


def setting_names() -> list[str]:
    """Every ``ADDON_*`` setting the add-on has (the names in :mod:`addon.config`)."""
    return sorted(name for name in vars(defaults) if name.startswith("ADDON_"))


def parse_setting(name: str, text: str) -> Any:
    """Convert an environment string to the type of the setting's default.

    Booleans take ``1/true/yes/on`` and ``0/false/no/off``; numbers their usual spelling; a
    pair of seconds (``ADDON_ICONTACT_TIMEOUT``) ``"5,20"`` or one number for both; settings
    whose default is None or text stay text.

    Args:
        name: the setting, e.g. ``ADDON_LOG_LIMIT``.
        text: the variable's value.

    Returns:
        The typed value.

    Raises:
        ValueError: naming the variable and the type it must have.
    """
    default = getattr(defaults, name, None)
    text = text.strip()
    if name in _MAY_BE_NONE and text.lower() in ("none", "off", ""):
        return None
    try:
        if isinstance(default, bool):
            if text.lower() in TRUE | FALSE:
                return text.lower() in TRUE
            raise ValueError
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple):
            parts = tuple(float(part) for part in text.split(","))
            if len(parts) == 1:
                return parts * len(default)
            if len(parts) != len(default):
                raise ValueError
            return parts
    except ValueError:
        raise ValueError(f"{name}={text!r} in the environment: {_expected(default)}") from None
    return text


def from_environ(
    environ: Mapping[str, str] | None = None, names: Iterable[str] | None = None
) -> dict[str, Any]:
    """The add-on's settings that ``environ`` (default: ``os.environ``) gives, typed.

    Empty variables count as unset; variables that name no setting are left alone.

    Args:
        environ: where to read; ``os.environ`` when None.
        names: only these settings (default: all of them).

    Raises:
        ValueError: a variable whose value does not fit its setting's type.
    """
    environ = os.environ if environ is None else environ
    return {
        name: parse_setting(name, environ[name])
        for name in (setting_names() if names is None else names)
        if environ.get(name, "").strip()
    }


def _expected(default: Any) -> str:
    if isinstance(default, bool):
        return "expected one of 1, true, yes, on, 0, false, no, off"
    if isinstance(default, int):
        return "expected a whole number"
    if isinstance(default, tuple):
        return f"expected {len(default)} numbers of seconds separated by a comma, or one for all"
    return "expected a number"
