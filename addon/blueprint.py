"""The add-on's blueprint: the webhook plus the merchant screens, made fresh for each app."""

from __future__ import annotations

from flask import Blueprint

from . import api, health, views


def make_blueprint(name: str = "addon") -> Blueprint:
    """The add-on's blueprint under ``name`` (``ADDON_BLUEPRINT_NAME``): the add-on's own
    templates and views reach each other with relative endpoints (``url_for(".logs")``), so a
    host whose own blueprint is called ``addon`` can mount it under another name."""
    bp = Blueprint(
        name,
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    api.register(bp)
    health.register(bp)
    views.register(bp)
    return bp
