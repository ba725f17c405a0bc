"""The host's hooks, Flask-Login style: how the engine learns whose marketplace a request is,
what a marketplace's products are called, who may manage integrations, which marketplaces
exist, and whom to email a marketplace's alarms. Registered with decorators on the engine;
every one is optional but the marketplace loader, which the screens need on every request."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

#: A host hook, handed back unchanged by the decorator that registers it.
Hook = TypeVar("Hook", bound=Callable[..., Any])


class HostHooks:
    """The decorators a host registers its hooks with, and the engine's use of them."""

    def __init__(self) -> None:
        self.marketplace_loader_callback: Callable[[], Any] | None = None
        self.product_loader_callback: Callable[[str, str], str | None] | None = None
        self.permission_check_callback: Callable[[str], bool] | None = None
        self.known_marketplace_callback: Callable[[str], bool] | None = None
        self.past_events_callback: Callable[[str, str, Any], Iterable[Any]] | None = None
        self.alarm_recipients_callback: Callable[[str], Any] | None = None

    def marketplace_loader(self, callback: Hook) -> Hook:
        """Register the function that returns the current merchant's marketplace id (or None).

        Required: the screens ask it on every request.
        """
        self.marketplace_loader_callback = callback
        return callback

    def product_loader(self, callback: Hook) -> Hook:
        """Register the function that names a marketplace's product.

        It is called as ``callback(marketplace_id, product_id)`` (both strings) and returns the
        product's name, or None when that marketplace has no such product (the product's
        screens then answer 404). A loader of one argument, ``callback(product_id)``, still
        works but cannot tell merchants apart, and is deprecated.

        Raises:
            TypeError: a callback that takes neither two arguments nor one.
        """
        if _accepts(callback, 2):
            self.product_loader_callback = callback
        elif _accepts(callback, 1):
            warnings.warn(
                "A product_loader of one argument, (product_id), is deprecated: take "
                "(marketplace_id, product_id) and return None for a product of another "
                "marketplace, or every merchant sees every product's name.",
                DeprecationWarning,
                stacklevel=2,
            )
            self.product_loader_callback = lambda _marketplace_id, product_id: callback(product_id)
        else:
            raise TypeError(
                "@engine.product_loader takes a function of (marketplace_id, product_id)."
            )
        return callback

    def permission_check(self, callback: Hook) -> Hook:
        """Register an optional check that the user may manage a marketplace's integrations."""
        self.permission_check_callback = callback
        return callback

    def known_marketplace(self, callback: Hook) -> Hook:
        """Register an optional check that a marketplace id is one of the storefront's.

        The signed webhook asks it for each event's ``marketplace_id`` and refuses an event
        of a marketplace it answers False for (422, nothing stored). Without it every
        marketplace id is accepted. ``emit()`` does not ask it: the host's own code names
        its own marketplaces.
        """
        self.known_marketplace_callback = callback
        return callback

    def alarm_recipients(self, callback: Hook) -> Hook:
        """Register the function that gives the addresses a marketplace's alarms are emailed to.

        It is called as ``callback(marketplace_id)``, from a worker (no request, no signed-in
        user), and returns a list of email addresses (empty: none). ``ADDON_ALARM_RECIPIENTS``
        are emailed as well.
        """
        self.alarm_recipients_callback = callback
        return callback

    def alarm_addresses(self, marketplace_id: str) -> list[str]:
        """Whom to email ``marketplace_id``'s alarms, as the ``@engine.alarm_recipients`` hook
        says (none without one)."""
        hook = self.alarm_recipients_callback
        found = hook(marketplace_id) if hook is not None else None
        if isinstance(found, str):  # one address given as text, not a list of its letters
            found = [found]
        return [str(address).strip() for address in found or () if str(address).strip()]

    def past_events(self, callback: Hook) -> Hook:
        """Register an optional source of events from before the add-on was installed.

        *Apply to past events* on a rule asks it, when the merchant ticks "your store's
        older orders too", as ``callback(marketplace_id, trigger, since)``: ``trigger`` is
        the rule's trigger name (``"product.purchased"``), ``since`` a naive UTC datetime.
        It yields one dict per past event of that trigger in that marketplace since then:
        ``event_id`` (the id ``emit`` gets for it, so an event sent both ways counts once),
        ``occurred_at`` (a datetime, naive UTC or aware), ``customer`` and the fields
        ``emit`` takes for the type (``product_id``, ``purchase_type`` ...), and optionally
        ``type`` when it is not the trigger's own (a delinquency for *Subscription Canceled*).
        """
        self.past_events_callback = callback
        return callback

    def current_marketplace(self) -> str | None:
        """The signed-in merchant's marketplace id, from ``@engine.marketplace_loader``.

        Raises:
            RuntimeError: no marketplace loader is registered.
        """
        if self.marketplace_loader_callback is None:
            raise RuntimeError(
                "The Integration Engine has no marketplace loader, so it cannot tell whose "
                "integrations to show. Decorate the function that returns the signed-in "
                "merchant's marketplace id (or None) with @engine.marketplace_loader."
            )
        value = self.marketplace_loader_callback()
        return None if value is None else str(value)

    def product_name(self, marketplace_id: str, product_id: str | None) -> str | None:
        """The name of ``marketplace_id``'s product ``product_id``, from the product loader.

        Returns:
            The name, or None for no product id, no loader, or a product the loader does not
            know in that marketplace.
        """
        if product_id is None or self.product_loader_callback is None:
            return None
        return self.product_loader_callback(str(marketplace_id), str(product_id))

    def is_known_marketplace(self, marketplace_id: str) -> bool:
        """Whether the ``@engine.known_marketplace`` check accepts ``marketplace_id``
        (True when the host registered none)."""
        check = self.known_marketplace_callback
        return check is None or bool(check(marketplace_id))


def _accepts(callback: Callable[..., Any], count: int) -> bool:
    """Whether ``callback`` can be called with ``count`` positional arguments."""
    try:
        inspect.signature(callback).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): trust it takes the new form
        return count == 2
    return True
