"""The in-process cache (an LRU bounded by bytes), the cache chosen by the settings, and the
formats an outside party must reproduce: the cache key and the ETag."""

from __future__ import annotations

import pytest

from image_optimizer.cache import CachedImage, cache_from_settings, cache_key
from image_optimizer.cache.memory import MemoryCache
from image_optimizer.request import parse_query
from image_optimizer.service import entity_tag
from image_optimizer.settings import Settings


def image(size: int, tag: str = "x") -> CachedImage:
    return CachedImage(b"\x00" * size, "image/webp", f'"{tag}"', 1, 1)


def test_the_least_recently_used_goes_first() -> None:
    cache = MemoryCache(300)
    cache.set("a", image(100, "a"))
    cache.set("b", image(100, "b"))
    cache.set("c", image(100, "c"))
    assert cache.get("a") is not None  # a is now the most recently used
    cache.set("d", image(100, "d"))
    assert cache.get("b") is None
    assert [cache.get(key) is not None for key in "acd"] == [True, True, True]


def test_the_bytes_held_are_counted_through_replacements_and_evictions() -> None:
    cache = MemoryCache(300)
    for _ in range(5):
        cache.set("a", image(100))  # the same key again and again holds 100 bytes, not 500
    cache.set("b", image(200))
    assert cache.get("a") is not None
    assert cache.get("b") is not None
    cache.set("c", image(150))  # needs 150: a (least recent) and then b go
    assert (cache.get("a"), cache.get("b")) == (None, None)
    cache.set("d", image(150))
    assert cache.get("c") is not None  # 300 bytes in all: exactly full, nothing evicted
    assert cache.get("d") is not None
    cache.set("e", image(1))
    assert cache.get("c") is None


def test_an_image_as_large_as_the_cache_fits_and_a_larger_one_is_not_kept() -> None:
    cache = MemoryCache(300)
    cache.set("small", image(10))
    cache.set("huge", image(301))
    assert cache.get("huge") is None
    assert cache.get("small") is not None  # refusing the huge one evicted nothing
    cache.set("exact", image(300))
    assert cache.get("exact") is not None
    assert cache.get("small") is None


@pytest.mark.parametrize(
    ("variables", "described"),
    [
        ({}, "none"),
        ({"memory_cache_bytes": 1}, "memory (1 bytes)"),
        ({"memory_cache_bytes": 4096}, "memory (4096 bytes)"),
        ({"redis_url": "redis://cache:6379/0", "memory_cache_bytes": 4096}, "redis (redis://cache:6379/0)"),
    ],
)  # fmt: skip
def test_the_settings_choose_the_cache(variables: dict[str, object], described: str) -> None:
    settings = Settings(source_bucket="b", **variables)  # type: ignore[arg-type]
    assert cache_from_settings(settings).describe() == described


def test_the_cache_key_is_the_documented_sha256() -> None:
    """Known answer from `printf '%s' '1|landscapes/main.jpg|w=400&h=&fit=cover&format=webp&q=80'
    | sha256sum`: the format version, the object key and the canonical transform."""
    spec = parse_query("format=webp&w=0400", None, 4096)
    assert cache_key("landscapes/main.jpg", spec) == (
        "69392061ecf588e094e3a1c201fb1862da0a211c4cc809cd1252a87fe8c3518d"
    )


def test_the_etag_is_a_128_bit_blake2b_of_the_bytes() -> None:
    """Known answer from `printf '%s' hello | b2sum -l 128`."""
    assert entity_tag(b"hello") == '"46fb7408d4f285228f4af516ea25851b"'
