"""Exceptions the add-on raises to its host, in one place."""


class AddonError(Exception):
    """Base class for every error the add-on raises on purpose."""


class IntegrationError(AddonError):
    """An integration or rule could not be saved; the message is fit to show a merchant.

    ``field`` names the form field the message belongs next to, when there is one.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class InvalidEvent(AddonError, ValueError):
    """A storefront event is malformed; ``field`` names the offending field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class TransactionError(AddonError, RuntimeError):
    """``emit(join=...)`` was told the opposite of what the session is doing: ``join=True``
    with no transaction open, or ``join=False`` while one is open."""
