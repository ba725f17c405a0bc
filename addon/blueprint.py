"""The add-on's blueprint: the webhook plus the merchant screens, made fresh for each app."""

from __future__ import annotations

from flask import Blueprint

from . import api, health, views


def make_blueprint() -> Blueprint:
    bp = Blueprint(
        "addon",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    api.register(bp)
    health.register(bp)
    views.register(bp)
    return bp
