"""Per-app state of the engine, reachable from plain functions through ``current_app``."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from flask import current_app
from flask_sqlalchemy import SQLAlchemy
from rq import Queue
from sqlalchemy.orm import Session

from .crypto import Vault
from .engine.context import SYSTEM_CLOCK, Clock, Context
from .settings import Settings

if TYPE_CHECKING:
    from .extension import IntegrationEngine

T = TypeVar("T")

NOT_REGISTERED = (
    "The Integration Engine is not registered on this app. "
    "Did you forget to call 'engine.init_app(app)'?"
)


@dataclass
class AppState:
    """What the engine keeps per app (one engine may serve several apps)."""

    db: SQLAlchemy
    vault: Vault
    queue: Queue | None
    settings: Settings
    clock: Clock = SYSTEM_CLOCK
    _pools: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)
    _pools_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def context(self) -> Context:
        """The engine's dependencies, to hand to its functions: made at each entry (a job, a
        request), so a setting or clock a test changes is what the next entry sees."""
        return Context(
            session=self.db.session,
            settings=self.settings,
            queue=self.queue,
            vault=self.vault,
            clock=self.clock,
            connections=self.connections,
        )

    def connections(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        """The app's connection pool for ``key``, made by ``make`` on first use.

        Shared by every job and request of the process, so a worker keeps its connections
        to the provider from one job to the next instead of opening (over HTTPS, a TLS
        handshake each) a new set for every job. One per process: a forked worker must not
        write to sockets its parent also holds.
        """
        key = (*key, os.getpid())
        with self._pools_lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = make()
            return pool


def engine() -> IntegrationEngine:
    try:
        found: IntegrationEngine = current_app.extensions["addon"]
    except KeyError:
        raise RuntimeError(NOT_REGISTERED) from None
    return found


def state() -> AppState:
    return engine().state()


def session() -> Session:
    return state().db.session  # type: ignore[return-value]


def settings() -> Settings:
    """The current app's typed settings, checked when ``init_app`` ran."""
    return state().settings


def context() -> Context:
    """The current app's :class:`Context`: taken once where a job or request enters the
    engine, then passed down."""
    return state().context
