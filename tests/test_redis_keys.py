"""Two deployments on one Redis database, told apart by ``ADDON_QUEUE`` alone."""

from __future__ import annotations

from flask import Flask
from redis import Redis

from addon import IntegrationEngine
from addon.engine.queue import (
    drain_flag,
    enqueue_drain,
    enqueue_expand,
    expand_flag,
    expanding,
)


def deployment(redis_url: str, queue_name: str, tmp_path) -> IntegrationEngine:
    app = Flask(queue_name)
    app.config.update(
        TESTING=True,
        SECRET_KEY="k",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / queue_name}.db",
        ADDON_REDIS_URL=redis_url,
        ADDON_QUEUE=queue_name,
    )
    engine = IntegrationEngine()
    engine.init_app(app)
    return engine.state(app).queue


def test_flags_and_locks_of_two_queues_on_one_redis_are_their_own(redis_url, tmp_path):
    Redis.from_url(redis_url).flushdb()
    shop = deployment(redis_url, "shop", tmp_path)
    staging = deployment(redis_url, "staging", tmp_path)

    enqueue_expand(shop, "acme")
    enqueue_expand(staging, "acme")
    enqueue_drain(shop, 7)
    enqueue_drain(staging, 7)

    # Each deployment got its own job for the same marketplace and integration ids.
    assert shop.count == 2 and staging.count == 2
    assert expand_flag(shop, "acme") != expand_flag(staging, "acme")
    assert drain_flag(shop, 7, 2) == "addon:shop:queued:drain:7:helper2"
    with expanding(shop, "acme") as ours, expanding(staging, "acme") as theirs:
        assert ours and theirs
