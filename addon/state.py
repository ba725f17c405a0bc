"""Per-app state of the engine, reachable from plain functions through ``current_app``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_sqlalchemy import SQLAlchemy
from rq import Queue
from sqlalchemy.orm import Session

from .crypto import Vault

if TYPE_CHECKING:
    from .extension import IntegrationEngine


@dataclass
class AppState:
    """What the engine keeps per app (one engine may serve several apps)."""

    db: SQLAlchemy
    vault: Vault
    queue: Queue | None


def engine() -> IntegrationEngine:
    try:
        return current_app.extensions["addon"]
    except KeyError:
        raise RuntimeError(
            "The Integration Engine is not registered on this app. "
            "Did you forget to call 'engine.init_app(app)'?"
        ) from None


def state() -> AppState:
    return engine().state()


def session() -> Session:
    return state().db.session  # type: ignore[return-value]


def config() -> Any:
    return current_app.config
