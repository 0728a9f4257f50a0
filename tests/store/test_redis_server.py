"""The Redis fixture starts a real server that answers, and stops it afterwards."""

from __future__ import annotations

from .._redis_server import RedisServer


def test_redis_server_answers_on_its_socket_only(redis_server: RedisServer) -> None:
    assert redis_server.ping()
    assert redis_server.url.startswith("unix://")
    assert redis_server.process.poll() is None
