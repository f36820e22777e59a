"""The handler answers 503 with Retry-After before Lambda would kill it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import error_of
from image_optimizer import app
from image_optimizer.cache import cache_key
from image_optimizer.cache.null import NullCache
from image_optimizer.cache.redis import RedisCache, RedisOptions
from image_optimizer.errors import TimeBudgetExceeded
from image_optimizer.pipeline import render
from image_optimizer.request import parse_query
from image_optimizer.service import ImageService
from image_optimizer.sources.folder import FolderSource
from image_optimizer.spec import TransformSpec
from image_optimizer_cli.lambda_events import LocalContext, function_url_event
from images import encode, gradient
from redis_server import RedisServer

IMAGE = "/images/landscapes/main.jpg?w=300&format=avif"


def invoke_with(seconds_left: float) -> dict[str, object]:
    event = function_url_event("GET", IMAGE, [])
    return app.lambda_handler(event, LocalContext(timeout_seconds=seconds_left))


def test_too_little_time_left_is_a_503_to_retry(s3_handler: Callable[..., None]) -> None:
    s3_handler(RESPONSE_MARGIN_MS="1000")
    response = invoke_with(0.5)
    assert response["statusCode"] == 503
    assert error_of(response)["code"] == "time_budget_exceeded"  # type: ignore[arg-type]
    headers = response["headers"]
    assert headers["Retry-After"] == "2"  # type: ignore[index]
    # Seconds, not a day: replayed at once, it is answered by CloudFront, not rendered again.
    assert headers["Cache-Control"] == "public, max-age=10, s-maxage=10"  # type: ignore[index]


def test_enough_time_is_a_200(s3_handler: Callable[..., None]) -> None:
    s3_handler(RESPONSE_MARGIN_MS="1000")
    assert invoke_with(30)["statusCode"] == 200


def test_the_pipeline_stops_between_steps() -> None:
    data = encode(gradient(), "PNG")
    with pytest.raises(TimeBudgetExceeded):
        render(data, TransformSpec(width=10), max_pixels=10**8, deadline=time.monotonic() - 1)
    render(data, TransformSpec(width=10), max_pixels=10**8, deadline=time.monotonic() + 60)


def test_waiting_for_another_request_ends_at_the_deadline(
    samples_dir: Path, redis_url: str, shared_redis: RedisServer
) -> None:
    spec = parse_query("w=100", None, 4096)
    entry = cache_key("landscapes/main.jpg", spec)
    lock = f"image-optimizer:{{{entry.original}}}:lock:{entry.variant}"
    shared_redis.client().set(lock, "busy elsewhere", px=60_000)
    cache = RedisCache(RedisOptions(redis_url, wait_seconds=30))
    service = ImageService(FolderSource(samples_dir, 10**9), cache, max_source_pixels=10**8)
    started = time.monotonic()
    try:
        outcome = service.serve("landscapes/main.jpg", spec, deadline=started + 0.3).cache_status
    except TimeBudgetExceeded:
        outcome = "out of time"
    # It stopped waiting at the deadline (not after the cache's 30 s), then made the image in
    # what time was left or said it could not.
    assert time.monotonic() - started < 5
    assert outcome in {"miss", "out of time"}


def test_a_503_from_s3_says_when_to_retry(
    s3_handler: Callable[..., None], monkeypatch: pytest.MonkeyPatch, refused_port: int
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{refused_port}")
    s3_handler()
    response = invoke_with(30)
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "1"  # type: ignore[index]


def test_a_miss_with_no_time_left_does_not_even_fetch(samples_dir: Path) -> None:
    fetched: list[str] = []

    class Watched(FolderSource):
        def fetch(self, key: str) -> bytes:
            fetched.append(key)
            return super().fetch(key)

    service = ImageService(Watched(samples_dir, 10**9), NullCache(), max_source_pixels=10**8)
    with pytest.raises(TimeBudgetExceeded) as caught:
        service.serve("landscapes/main.jpg", TransformSpec(width=10), time.monotonic() - 1)
    assert caught.value.message == "no time was left to make the image; try again"
    assert fetched == []
