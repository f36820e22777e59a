"""The Redis cache against a real redis-server: hits, TTL, keys, faults and coalesced misses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import decoded, get
from image_optimizer import app
from image_optimizer.cache import CachedImage, CacheKey, CacheUnavailable, cache_key
from image_optimizer.cache.redis import RedisCache, RedisOptions, decode_value, encode_value
from image_optimizer.request import parse_query
from image_optimizer.service import ImageService
from image_optimizer.settings import Settings
from image_optimizer.sources.folder import FolderSource
from redis_server import RedisServer

IMAGE = "/images/landscapes/main.jpg?w=300&format=webp"
PREFIX = "image-optimizer:"

Configure = Callable[..., None]
Records = Callable[[], list[dict[str, Any]]]


def cache_status(response: dict[str, Any]) -> str:
    assert response["statusCode"] == 200, response["body"][:300]
    status: str = response["headers"]["X-Cache"]
    return status


def stored(key: CacheKey, name: str | None = None) -> str:
    """The Redis key of an image (or of the original's lock, index or epoch): the layout the
    cache module documents, which an operator inspecting Redis relies on."""
    return f"{PREFIX}{{{key.original}}}:{key.variant if name is None else name}"


def image_keys(client: Any) -> list[bytes]:
    pattern = re.compile(rb"image-optimizer:\{[0-9a-f]{32}\}:[0-9a-f]{64}")
    return [key for key in client.keys(f"{PREFIX}*") if pattern.fullmatch(key)]


class TestHits:
    def test_miss_then_hit_with_the_same_bytes_and_etag(
        self, s3_handler: Configure, redis_url: str
    ) -> None:
        s3_handler(REDIS_URL=redis_url)
        first, second = get(IMAGE), get(IMAGE)
        assert (cache_status(first), cache_status(second)) == ("miss", "hit")
        assert first["body"] == second["body"]
        assert first["headers"]["ETag"] == second["headers"]["ETag"]
        assert first["headers"]["Content-Type"] == second["headers"]["Content-Type"] == "image/webp"
        assert decoded(second).width == 300

    def test_a_hit_needs_neither_s3_nor_pillow(
        self,
        s3_handler: Configure,
        redis_url: str,
        monkeypatch: pytest.MonkeyPatch,
        refused_port: int,
    ) -> None:
        s3_handler(REDIS_URL=redis_url)
        get(IMAGE)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{refused_port}")  # S3 gone
        app.service.cache_clear()  # a new container: only Redis remembers
        hit = get(IMAGE)
        assert cache_status(hit) == "hit"
        timing = hit["headers"]["Server-Timing"]
        assert "fetch" not in timing
        assert "decode" not in timing
        assert "encode" not in timing

    @pytest.mark.fresh_interpreter
    def test_a_new_containers_first_hit_imports_no_more_than_it_needs(
        self, s3_handler: Configure, redis_url: str
    ) -> None:
        s3_handler(REDIS_URL=redis_url)
        get(IMAGE)
        # A fresh interpreter is a new container: boto3 and Pillow cost ~350 and ~50 ms to
        # import, and a hit has no use for either; nor for asyncio (~50 ms), which redis-py's
        # package would import. A dataclass costs ~1 ms to define in a new process (its
        # methods are compiled then): records are NamedTuples, and only `TransformSpec`, whose
        # construction makes the spec canonical, is one.
        code = (
            "import dataclasses, json, sys\n"
            "from image_optimizer import app\n"
            "from image_optimizer_cli.lambda_events import LocalContext, function_url_event\n"
            f"response = app.lambda_handler(function_url_event('GET', {IMAGE!r}, []), "
            "LocalContext())\n"
            "defined = [value.__qualname__ for name, module in list(sys.modules.items())\n"
            "           if name.startswith('image_optimizer.')\n"
            "           for value in vars(module).values()\n"
            "           if isinstance(value, type) and value.__module__ == name\n"
            "           and dataclasses.is_dataclass(value)]\n"
            "print(json.dumps([response['headers']['X-Cache'],\n"
            "                  sorted({'boto3', 'PIL', 'asyncio', 'redis'} & set(sys.modules)),\n"
            "                  sorted(defined)]))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        )
        assert json.loads(result.stdout.splitlines()[-1]) == ["hit", [], ["TransformSpec"]]

    def test_304_on_the_hit_path(self, s3_handler: Configure, redis_url: str) -> None:
        s3_handler(REDIS_URL=redis_url)
        etag = get(IMAGE)["headers"]["ETag"]
        again = get(IMAGE, **{"if-none-match": etag})
        assert again["statusCode"] == 304
        assert again["headers"]["X-Cache"] == "hit"

    def test_the_ttl_is_the_configured_one(
        self, s3_handler: Configure, redis_url: str, shared_redis: RedisServer
    ) -> None:
        s3_handler(REDIS_URL=redis_url, REDIS_CACHE_EXPIRATION_SECONDS="120")
        get(IMAGE)
        client = shared_redis.client()
        [key] = image_keys(client)
        assert 110 <= client.ttl(key) <= 120

    def test_the_key_prefix_is_configurable(
        self, s3_handler: Configure, redis_url: str, shared_redis: RedisServer
    ) -> None:
        s3_handler(REDIS_URL=redis_url, REDIS_KEY_PREFIX="tenant-a:")
        get(IMAGE)
        keys = shared_redis.client().keys("*")
        assert keys
        assert all(key.startswith(b"tenant-a:") for key in keys)

    def test_items_over_the_size_limit_are_not_stored(
        self, s3_handler: Configure, redis_url: str, shared_redis: RedisServer
    ) -> None:
        s3_handler(REDIS_URL=redis_url, REDIS_MAX_ITEM_BYTES="1000")
        assert [cache_status(get(IMAGE)) for _ in range(2)] == ["miss", "miss"]
        assert image_keys(shared_redis.client()) == []

    def test_a_damaged_value_is_a_miss_and_is_replaced(
        self, s3_handler: Configure, redis_url: str, shared_redis: RedisServer
    ) -> None:
        s3_handler(REDIS_URL=redis_url)
        get(IMAGE)
        client = shared_redis.client()
        [key] = image_keys(client)
        client.set(key, b"IMGv1\xff\xff\xff\xffnot json")
        assert cache_status(get(IMAGE)) == "miss"
        assert cache_status(get(IMAGE)) == "hit"

    def test_equivalent_queries_share_one_entry(
        self, s3_handler: Configure, redis_url: str
    ) -> None:
        s3_handler(REDIS_URL=redis_url)
        assert cache_status(get("/images/logos/badge.png?w=100&format=jpg")) == "miss"
        assert cache_status(get("/images/logos/badge.png?format=jpeg&q=80&w=100")) == "hit"
        assert cache_status(get("/images/logos/badge.png?w=100&format=jpeg&q=81")) == "miss"

    def test_a_density_a_position_and_a_still_share_or_split_entries_by_meaning(
        self, s3_handler: Configure, redis_url: str
    ) -> None:
        s3_handler(REDIS_URL=redis_url)
        image = "/images/landscapes/main.jpg"
        assert cache_status(get(f"{image}?w=200&dpr=2")) == "miss"
        assert cache_status(get(f"{image}?w=400")) == "hit"  # the same pixels
        assert cache_status(get(f"{image}?w=40&h=40&position=top")) == "miss"
        assert cache_status(get(f"{image}?w=40&h=40&fy=0")) == "miss"  # another crop
        assert cache_status(get(f"{image}?w=40&position=top")) == "miss"
        assert cache_status(get(f"{image}?w=40")) == "hit"  # one side crops nothing
        assert cache_status(get(f"{image}?w=40&format=jpeg&frames=1")) == "miss"
        assert cache_status(get(f"{image}?w=40&format=jpeg")) == "hit"  # a JPEG is one frame


spellings = st.sampled_from(
    [
        [("w", "400"), ("format", "jpg")],
        [("format", "jpeg"), ("w", "400")],
        [("w", "400"), ("q", "80"), ("format", "jpeg")],
        [("fit", "contain"), ("format", "jpg"), ("w", "400")],
        [("w", "0400"), ("format", "jpeg"), ("fit", "cover")],
    ]
)


@given(first=spellings, second=spellings, data=st.data())
def test_every_spelling_of_one_transform_has_one_key(
    first: list[tuple[str, str]], second: list[tuple[str, str]], data: st.DataObject
) -> None:
    def key(pairs: list[tuple[str, str]]) -> CacheKey:
        order = data.draw(st.permutations(pairs))
        return cache_key("a/b.jpg", parse_query("&".join(f"{n}={v}" for n, v in order), None, 4096))

    assert key(first) == key(second)


@given(
    width=st.integers(1, 4096),
    other=st.integers(1, 4096),
    fmt=st.sampled_from(["jpeg", "png", "webp", "avif", "gif"]),
)
def test_different_transforms_have_different_keys(width: int, other: int, fmt: str) -> None:
    def key(query: str, image: str = "a.jpg") -> CacheKey:
        return cache_key(image, parse_query(query, None, 4096))

    assert (key(f"w={width}&format={fmt}") == key(f"w={other}&format={fmt}")) == (width == other)
    assert key(f"w={width}") != key(f"h={width}")
    assert key(f"w={width}", "a.jpg") != key(f"w={width}", "b.jpg")


class TestFaults:
    """Redis is an optimisation: whatever happens to it, clients get their images."""

    def test_redis_killed_mid_run(
        self, s3_handler: Configure, own_redis: RedisServer, log_lines: Records
    ) -> None:
        s3_handler(REDIS_URL=own_redis.url)
        assert [cache_status(get(IMAGE)) for _ in range(2)] == ["miss", "hit"]
        own_redis.kill()
        assert [cache_status(get(IMAGE)) for _ in range(5)] == ["miss"] * 5
        self.assert_logged_once(log_lines)

    def test_redis_paused_never_hangs_a_request(
        self, s3_handler: Configure, own_redis: RedisServer, log_lines: Records
    ) -> None:
        s3_handler(REDIS_URL=own_redis.url, REDIS_TIMEOUT_SECONDS="0.1")
        get(IMAGE)
        own_redis.pause()
        statuses = run_bounded(lambda: [cache_status(get(IMAGE)) for _ in range(5)])
        assert statuses == ["miss"] * 5
        self.assert_logged_once(log_lines)
        assert service_cache().failures == 1  # the breaker kept the other four away

    def test_redis_out_of_memory(self, s3_handler: Configure, own_redis: RedisServer) -> None:
        own_redis.client().config_set("maxmemory", "1")
        own_redis.client().config_set("maxmemory-policy", "noeviction")
        s3_handler(REDIS_URL=own_redis.url)
        assert [cache_status(get(IMAGE)) for _ in range(3)] == ["miss"] * 3
        assert service_cache().failures >= 1

    def test_redis_read_only(
        self, s3_handler: Configure, own_redis: RedisServer, refused_port: int
    ) -> None:
        own_redis.client().replicaof("127.0.0.1", refused_port)  # a replica of nobody: read-only
        s3_handler(REDIS_URL=own_redis.url)
        assert [cache_status(get(IMAGE)) for _ in range(3)] == ["miss"] * 3
        assert service_cache().failures >= 1

    def test_no_redis_at_all(self, s3_handler: Configure, refused_port: int) -> None:
        s3_handler(REDIS_URL=f"redis://127.0.0.1:{refused_port}/0")
        assert [cache_status(get(IMAGE)) for _ in range(3)] == ["miss"] * 3
        assert service_cache().failures == 1

    def test_it_tries_again_after_the_cooldown(
        self, s3_handler: Configure, own_redis: RedisServer
    ) -> None:
        s3_handler(
            REDIS_URL=own_redis.url, REDIS_TIMEOUT_SECONDS="0.1", REDIS_COOLDOWN_SECONDS="0.2"
        )
        own_redis.pause()
        assert cache_status(get(IMAGE)) == "miss"
        own_redis.resume()
        time.sleep(0.3)  # the cooldown passes
        assert [cache_status(get(IMAGE)) for _ in range(2)] == ["miss", "hit"]

    @staticmethod
    def assert_logged_once(log_lines: Records) -> None:
        warnings = [r for r in log_lines() if r["message"].startswith("redis unavailable")]
        assert len(warnings) == 1
        assert warnings[0]["level"] == "WARNING"
        assert warnings[0]["error_type"]


def service_cache() -> RedisCache:
    cache = app.service().cache
    assert isinstance(cache, RedisCache)
    return cache


def run_bounded[T](work: Callable[[], T], limit_seconds: float = 20) -> T:
    """Run ``work`` and fail, rather than hang the suite, if it never returns."""
    results: list[T] = []
    thread = threading.Thread(target=lambda: results.append(work()), daemon=True)
    thread.start()
    thread.join(limit_seconds)
    assert results, f"still waiting after {limit_seconds} s: a request hung"
    return results[0]


class CountingSource(FolderSource):
    def __init__(self, root: Path) -> None:
        super().__init__(root, 10**9)
        self.fetches = 0
        self._lock = threading.Lock()

    def fetch(self, key: str) -> bytes:
        with self._lock:
            self.fetches += 1
        return super().fetch(key)


class TestCoalescing:
    def test_concurrent_misses_for_one_key_make_it_once(
        self, samples_dir: Path, redis_url: str
    ) -> None:
        source = CountingSource(samples_dir)
        spec = parse_query("w=1200&format=avif", None, 4096)
        # Each request as its own container: its own service and Redis client.
        services = [
            ImageService(source, RedisCache(RedisOptions(redis_url)), max_source_pixels=10**8)
            for _ in range(8)
        ]
        barrier = threading.Barrier(len(services))
        results: list[Any] = [None] * len(services)

        def request(index: int) -> None:
            barrier.wait()
            results[index] = services[index].serve("landscapes/main.jpg", spec)

        threads = [threading.Thread(target=request, args=(i,)) for i in range(len(services))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert source.fetches == 1
        assert sorted(served.cache_status for served in results) == ["hit"] * 7 + ["miss"]
        assert len({served.image.etag for served in results}) == 1

    @pytest.mark.parametrize(
        ("lock_ends", "wait_seconds"),
        [(None, 0.2), (0.1, 30)],
        ids=["the-lock-stays-and-the-wait-ends", "the-lock-goes-without-a-result"],
    )
    def test_a_waiter_makes_the_image_itself_when_no_result_comes(
        self,
        samples_dir: Path,
        redis_url: str,
        shared_redis: RedisServer,
        lock_ends: float | None,
        wait_seconds: float,
    ) -> None:
        """The other request died holding its lock, or released it without storing (it failed,
        or made something too big to keep): the waiter makes the image, after its bounded wait
        or as soon as the lock is gone."""
        source = CountingSource(samples_dir)
        spec = parse_query(f"w={100 if lock_ends is None else 101}", None, 4096)
        entry = cache_key("landscapes/main.jpg", spec)
        lock = stored(entry, f"lock:{entry.variant}")
        shared_redis.client().set(lock, "another-request", px=60_000)
        if lock_ends is not None:
            threading.Timer(lock_ends, shared_redis.client().delete, [lock]).start()
        cache = RedisCache(RedisOptions(redis_url, wait_seconds=wait_seconds))
        served = run_bounded(
            lambda: ImageService(source, cache, max_source_pixels=10**8).serve(
                "landscapes/main.jpg", spec
            )
        )
        assert served.cache_status == "miss"
        assert source.fetches == 1
        again = ImageService(source, cache, max_source_pixels=10**8).serve(
            "landscapes/main.jpg", spec
        )
        assert again.cache_status == "hit"  # what the waiter made, it kept

    def test_misses_coalesce_on_a_cluster_mode_server(
        self, samples_dir: Path, tmp_path: Path
    ) -> None:
        """ElastiCache Serverless speaks only the cluster protocol: an entry and its lock are in
        two slots, so the waiter's look at both must not be one transaction (CROSSSLOT)."""
        server = RedisServer(tmp_path, cluster=True).start()
        try:
            source = CountingSource(samples_dir)
            spec = parse_query("w=640&format=avif", None, 4096)
            waiter = RedisCache(RedisOptions(server.url))
            maker = RedisCache(RedisOptions(server.url))
            claim = maker.claim(cache_key("landscapes/main.jpg", spec), time.monotonic() + 30)
            results: list[Any] = []
            thread = threading.Thread(
                target=lambda: results.append(
                    ImageService(source, waiter, max_source_pixels=10**8).serve(
                        "landscapes/main.jpg", spec
                    )
                )
            )
            thread.start()
            time.sleep(0.2)  # the waiter is polling by now
            claim.store(results_image())
            claim.release()
            thread.join(30)
            assert [served.cache_status for served in results] == ["hit"]
            assert source.fetches == 0
            assert waiter.failures == 0
        finally:
            server.stop()

    def test_the_lock_is_released_after_the_work(
        self, samples_dir: Path, redis_url: str, shared_redis: RedisServer
    ) -> None:
        cache = RedisCache(RedisOptions(redis_url))
        ImageService(FolderSource(samples_dir, 10**9), cache, max_source_pixels=10**8).serve(
            "landscapes/main.jpg", parse_query("w=50", None, 4096)
        )
        assert shared_redis.client().keys(f"{PREFIX}*:lock:*") == []


def results_image() -> CachedImage:
    return CachedImage(b"made elsewhere", "image/avif", '"m"', 640, 427)


class TestFailureWarnings:
    """The one warning a burst of Redis failures gives names the operation that failed. Each
    case is a Redis user that may not do one of the things the cache does."""

    @pytest.mark.parametrize(
        ("permissions", "operation"),
        [
            (["~*", "+@all", "-get"], "get"),
            (["~*", "+@all", "-set"], "claim"),  # may not take a lock
            (["%R~*", f"%W~{PREFIX}*:lock:*", "+@all"], "store"),  # may write locks only
        ],
    )
    def test_the_warning_names_what_failed(
        self,
        s3_handler: Configure,
        own_redis: RedisServer,
        log_lines: Records,
        permissions: list[str],
        operation: str,
    ) -> None:
        own_redis.client().execute_command("ACL", "SETUSER", "limited", "on", ">pw", *permissions)
        s3_handler(
            REDIS_URL=own_redis.url.replace("redis://", "redis://limited:pw@"),
            REDIS_COOLDOWN_SECONDS="42",
        )
        assert cache_status(get(IMAGE)) == "miss"
        [warning] = [
            r for r in log_lines() if r["message"] == "redis unavailable; serving without it"
        ]
        assert warning["level"] == "WARNING"
        assert warning["operation"] == operation
        assert warning["error_type"] == "ReplyError"
        assert warning["error"].startswith("NOPERM ")
        assert warning["retry_in_seconds"] == 42
        assert warning["redis_failures"] == 1

    def test_a_lock_that_cannot_be_released_is_a_warning_too(
        self, own_redis: RedisServer, log_lines: Records
    ) -> None:
        cache = RedisCache(RedisOptions(own_redis.url))
        claim = cache.claim(
            cache_key("a.jpg", parse_query("w=10", None, 4096)), time.monotonic() + 5
        )
        own_redis.kill()
        claim.release()  # the lock expires by itself
        [warning] = [
            r for r in log_lines() if r["message"] == "redis unavailable; serving without it"
        ]
        assert (warning["operation"], warning["error_type"]) == ("release", "ConnectionFailed")
        assert cache.failures == 1


def test_tls_with_a_password(s3_handler: Configure, tmp_path: Path) -> None:
    server = RedisServer(tmp_path, tls=True).start()
    try:
        assert server.url.startswith("rediss://")
        s3_handler(REDIS_URL=server.url)
        assert [cache_status(get(IMAGE)) for _ in range(2)] == ["miss", "hit"]
        assert service_cache().failures == 0
        wrong = server.url.replace(RedisServer.PASSWORD, "wrong")
        s3_handler(REDIS_URL=wrong)
        assert cache_status(get(IMAGE)) == "miss"  # refused by Redis, served all the same
        assert service_cache().failures == 1
    finally:
        server.stop()


def test_values_round_trip() -> None:
    image = CachedImage(b"\x00\x01body", "image/avif", '"abc"', 12, 34)
    assert decode_value(encode_value(image)) == image
    assert decode_value(b"something else") is None
    assert decode_value(encode_value(image)[:12]) is None


@pytest.mark.parametrize(
    ("url", "described"),
    [
        ("rediss://default:s3cret@cache.example.com:6379/0", "rediss://default:***@cache.example.com:6379/0"),
        ("rediss://:s3cret@cache.example.com:6379/0", "rediss://***@cache.example.com:6379/0"),
        ("redis://user:pa:ss@w@rd@h:6379/0", "redis://user:***@h:6379/0"),  # ':' and '@' in it
        ("redis://user:x://y@h:6379/0", "redis://user:***@h:6379/0"),  # and '://'
        ("redis://cache.example.com:6379/0", "redis://cache.example.com:6379/0"),
    ],
)  # fmt: skip
def test_the_password_is_not_shown(url: str, described: str) -> None:
    assert RedisCache(RedisOptions(url)).describe() == f"redis ({described})"


def test_the_stored_value_layout() -> None:
    """A tag with the layout's version, the description's length (4 bytes, big-endian), the
    description as compact JSON, then the image's bytes: what older and newer code must read."""
    image = CachedImage(b"PIXELS", "image/webp", '"e"', 640, 480)
    description = b'{"type":"image/webp","etag":"\\"e\\"","w":640,"h":480}'
    assert (
        encode_value(image)
        == b"IMGv1" + len(description).to_bytes(4, "big") + description + b"PIXELS"
    )


def test_the_options_come_from_the_settings() -> None:
    settings = Settings(
        source_bucket="b",
        redis_url="redis://h:1/0",
        redis_key_prefix="p:",
        redis_ttl_seconds=5,
        redis_max_item_bytes=6,
        redis_timeout_seconds=0.7,
        redis_cooldown_seconds=8,
        redis_lock_seconds=9,
        redis_wait_seconds=0.3,
    )
    assert RedisOptions.from_settings(settings) == RedisOptions(
        "redis://h:1/0", "p:", 5, 6, 0.7, 8, 9, 0.3
    )


def test_an_image_of_exactly_the_item_limit_is_stored(
    redis_url: str, shared_redis: RedisServer
) -> None:
    cache = RedisCache(RedisOptions(redis_url, max_item_bytes=1000))
    exact, over = CacheKey("o", "exact"), CacheKey("o", "over")
    for key, size in ((exact, 1000), (over, 1001)):
        cache.claim(key, time.monotonic() + 1).store(
            CachedImage(b"x" * size, "image/png", "", 1, 1)
        )
    assert cache.get(exact) is not None
    assert cache.get(over) is None


def test_a_claim_is_a_lock_that_expires_by_itself(
    redis_url: str, shared_redis: RedisServer
) -> None:
    cache = RedisCache(RedisOptions(redis_url, lock_seconds=7))
    cache.claim(CacheKey("o", "entry"), time.monotonic() + 5)
    assert 6000 < shared_redis.client().pttl(f"{PREFIX}{{o}}:lock:entry") <= 7000


def test_a_request_whose_lock_expired_does_not_release_the_next_ones(
    redis_url: str, shared_redis: RedisServer
) -> None:
    """The first request's lock runs out while it works; a second takes the lock; the first,
    finishing, releases only what is its own."""
    cache = RedisCache(RedisOptions(redis_url, lock_seconds=0.1, wait_seconds=0))
    entry, lock = CacheKey("o", "slow"), f"{PREFIX}{{o}}:lock:slow"
    first = cache.claim(entry, time.monotonic() + 5)
    time.sleep(0.2)  # its lock has expired
    second = cache.claim(entry, time.monotonic() + 5)
    held_by_second = shared_redis.client().get(lock)
    assert held_by_second is not None
    first.release()
    assert shared_redis.client().get(lock) == held_by_second  # still the second's
    second.release()
    assert shared_redis.client().get(lock) is None


@settings(max_examples=20)
@given(st.binary(max_size=64))
def test_any_stored_bytes_decode_to_an_image_or_nothing(value: bytes) -> None:
    decoded_value = decode_value(b"IMGv1" + value)
    assert decoded_value is None or isinstance(decoded_value, CachedImage)


class TestPurge:
    VARIANTS = ("w=100", "w=200&format=webp", "w=50&h=50&format=avif")

    def serve_all(self, service: ImageService, key: str) -> list[str]:
        return [
            service.serve(key, parse_query(query, None, 4096)).cache_status
            for query in self.VARIANTS
        ]

    @pytest.mark.parametrize("cluster", [False, True], ids=["plain", "cluster-mode"])
    def test_every_variant_of_the_original_goes_and_nothing_else(
        self, samples_dir: Path, tmp_path: Path, cluster: bool
    ) -> None:
        server = RedisServer(tmp_path, cluster=cluster).start()
        try:
            cache = RedisCache(RedisOptions(server.url, ttl_seconds=300))
            service = ImageService(FolderSource(samples_dir, 10**9), cache, max_source_pixels=10**8)
            assert self.serve_all(service, "landscapes/main.jpg") == ["miss"] * 3
            assert self.serve_all(service, "logos/badge.png") == ["miss"] * 3
            variants = stored(
                cache_key("landscapes/main.jpg", parse_query("", None, 4096)), "variants"
            )
            assert 290 < server.client().ttl(variants) <= 300  # as long as its newest image
            assert cache.purge("landscapes/main.jpg") == 3
            assert cache.purge("landscapes/main.jpg") == 0  # the index went with the variants
            assert self.serve_all(service, "landscapes/main.jpg") == ["miss"] * 3
            assert self.serve_all(service, "logos/badge.png") == ["hit"] * 3
            assert cache.purge("never/cached.jpg") == 0
            assert cache.failures == 0
        finally:
            server.stop()

    def test_an_image_made_before_the_purge_is_not_stored_after_it(
        self, redis_url: str, shared_redis: RedisServer
    ) -> None:
        cache = RedisCache(RedisOptions(redis_url))
        key = cache_key("photos/portrait.jpg", parse_query("w=10", None, 4096))
        before = cache.claim(key, time.monotonic() + 1)  # fetched the old original
        assert cache.purge("photos/portrait.jpg") == 0
        before.store(results_image())
        before.release()
        assert cache.get(key) is None
        after = cache.claim(key, time.monotonic() + 1)
        after.store(results_image())
        assert cache.get(key) == results_image()
        assert 86000 < shared_redis.client().ttl(stored(key, "epoch")) <= 86400

    def test_a_purge_that_cannot_be_done_raises(self, refused_port: int) -> None:
        cache = RedisCache(RedisOptions(f"redis://127.0.0.1:{refused_port}/0"))
        with pytest.raises(CacheUnavailable, match=re.escape("the purge of 'a.jpg' failed")):
            cache.purge("a.jpg")
