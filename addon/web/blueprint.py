"""The add-on's blueprint: the webhook plus the merchant screens, made fresh for each app."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

from . import api, health, views


def make_blueprint(name: str = "addon") -> Blueprint:
    """The add-on's blueprint under ``name`` (``ADDON_BLUEPRINT_NAME``): the add-on's own
    templates and views reach each other with relative endpoints (``url_for(".logs")``), so a
    host whose own blueprint is called ``addon`` can mount it under another name."""
    bp = Blueprint(
        name,
        __name__,
        # The templates and static files sit at the package's top, beside the layers that
        # fill them (``addon/templates``), not inside ``web/``.
        root_path=str(Path(__file__).resolve().parent.parent),
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    api.register(bp)
    health.register(bp)
    views.register(bp)
    return bp
