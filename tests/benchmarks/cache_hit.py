"""Benchmark: what a Redis cache hit costs beyond the Redis round trip itself.

Run with `make bench`. Starts its own redis-server on loopback, fills one entry, then measures,
interleaved so that machine noise lands on every row alike:

- redis GET      the bare round trip for a value of that size (the handler's own client)
- redis-py GET   the same with redis-py, as the cache used before it had its own client
- handler hit    the Lambda handler answering the same request from Redis (event parsing,
                 routing, key hashing, the GET, headers, base64, the log record)
- memory hit     the same with the in-process cache: the handler's own work, no network
- memory hit, no log/metrics   the same through the bare resolver: no request record, no EMF
                 metrics, no Lambda context in the logger; the difference is what observability
                 costs a cached request
- HTTP hit       through `image-optimizer serve`'s server on loopback (adds HTTP both ways)
- HTTP /health   the same server's cheapest answer, for scale

Requests run one after another on one core (`make bench` pins it, redis-server included), so
"per second" (a million over the median in µs) is the rate one core sustains for that case.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the redis helper

from image_optimizer import app
from image_optimizer.cache import cache_key
from image_optimizer.cache.memory import MemoryCache
from image_optimizer.observability import RequestRecord
from image_optimizer.request import parse_query
from image_optimizer.service import ImageService
from image_optimizer.sources.folder import FolderSource
from image_optimizer_cli.lambda_events import LocalContext, function_url_event
from image_optimizer_cli.samples import ensure_samples
from image_optimizer_cli.server import make_server
from redis_server import RedisServer

KEY = "landscapes/main.jpg"
QUERY = "w=640&format=webp"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        server = RedisServer(Path(workdir)).start()
        try:
            run(Path(workdir), server, args.rounds)
        finally:
            server.stop()


def run(workdir: Path, server: RedisServer, rounds: int) -> None:
    samples = ensure_samples(workdir / "samples")
    os.environ.update(SOURCE_DIR=str(samples), REDIS_URL=server.url)
    app.logger.registered_handler.setStream(open(os.devnull, "w"))  # noqa: SIM115
    event = function_url_event("GET", f"/images/{KEY}?{QUERY}", [("accept", "image/webp")])

    def handler() -> None:
        response = app.lambda_handler(event, LocalContext())
        assert response["headers"]["X-Cache"] == "hit"

    started = time.perf_counter()
    with open(os.devnull, "w") as discard, contextlib.redirect_stdout(discard):  # ColdStart EMF
        miss = app.lambda_handler(event, LocalContext())
    miss_ms = (time.perf_counter() - started) * 1000
    assert miss["headers"]["X-Cache"] == "miss"
    client = app.service().cache._client  # type: ignore[attr-defined]  # the handler's own client
    entry = cache_key(KEY, parse_query(QUERY, None, 4096))
    stored_key = f"{app.settings().redis_key_prefix}{{{entry.original}}}:{entry.variant}"
    value_bytes = len(client.execute("GET", stored_key) or b"")
    redis_py = redis.Redis.from_url(server.url, socket_timeout=0.25, health_check_interval=0)

    def redis_get() -> None:
        assert client.execute("GET", stored_key)

    def redis_py_get() -> None:
        assert redis_py.get(stored_key)

    memory_service = ImageService(
        FolderSource(samples, 10**9), MemoryCache(64 * 1024 * 1024), max_source_pixels=10**8
    )

    def memory_hit() -> None:
        with serving(memory_service):
            handler()

    def memory_hit_unobserved() -> None:
        with serving(memory_service):
            record = RequestRecord("GET", event["rawPath"])
            response = app.respond(app.Request.of(event), LocalContext(), record)
            assert response["headers"]["X-Cache"] == "hit"

    http = make_server("127.0.0.1", 0, app.lambda_handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{http.server_address[1]}"

    def http_hit() -> None:
        with urllib.request.urlopen(f"{base}/images/{KEY}?{QUERY}") as response:
            assert response.headers["X-Cache"] == "hit"
            response.read()

    def http_health() -> None:
        with urllib.request.urlopen(f"{base}/health") as response:
            response.read()

    with serving(memory_service):
        app.lambda_handler(event, LocalContext())  # fill the in-process cache
    cases: dict[str, Callable[[], None]] = {
        "redis GET": redis_get,
        "redis-py GET": redis_py_get,
        "handler hit (Redis)": handler,
        "handler hit (memory)": memory_hit,
        "  no log/metrics": memory_hit_unobserved,
        "HTTP hit (Redis)": http_hit,
        "HTTP /health": http_health,
    }
    with open(os.devnull, "w") as discard, contextlib.redirect_stdout(discard):  # not the table's
        samples_us = measure(cases, rounds)
    http.shutdown()
    report(samples_us, value_bytes, miss_ms, rounds)


@contextmanager
def serving(service: ImageService) -> Iterator[None]:
    """Let the handler use ``service`` (the handler looks its service up on every request)."""
    original = app.service
    app.service = lambda: service  # type: ignore[assignment]
    try:
        yield
    finally:
        app.service = original


def measure(cases: dict[str, Callable[[], None]], rounds: int) -> dict[str, list[float]]:
    for case in cases.values():  # warm-up
        for _ in range(50):
            case()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            started = time.perf_counter_ns()
            case()
            samples[name].append((time.perf_counter_ns() - started) / 1000)
    return samples


def report(samples: dict[str, list[float]], value_bytes: int, miss_ms: float, rounds: int) -> None:
    redis_median = statistics.median(samples["redis GET"])
    print(
        f"cache hit benchmark: {rounds} interleaved rounds, value {value_bytes} bytes, "
        f"first request (miss) {miss_ms:.1f} ms"
    )
    print(
        f"{'case':<24}{'median us':>11}{'p90 us':>10}{'per second':>12}{'x redis GET':>13}"
        f"{'beyond GET us':>15}"
    )
    for name, values in samples.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        beyond = f"{median - redis_median:.1f}" if name.endswith("(Redis)") else ""
        print(
            f"{name:<24}{median:>11.1f}{p90:>10.1f}{1e6 / median:>12.0f}"
            f"{median / redis_median:>13.2f}{beyond:>15}"
        )
    observed = statistics.median(samples["handler hit (memory)"])
    unobserved = statistics.median(samples["  no log/metrics"])
    print(
        f"log record + metrics on a cached request: {observed - unobserved:.1f} us, "
        f"{100 * (observed - unobserved) / observed:.1f}% of the handler's hit"
    )


if __name__ == "__main__":
    main()
