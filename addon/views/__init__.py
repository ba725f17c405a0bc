"""The merchant screens (placeholder until the HTMX screens land)."""

from __future__ import annotations

from flask import Blueprint


def register(bp: Blueprint) -> None:
    pass
