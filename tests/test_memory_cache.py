"""The in-process cache (an LRU bounded by bytes), the cache chosen by the settings, and the
formats an outside party must reproduce: the cache key and the ETag."""

from __future__ import annotations

import time

import pytest

from image_optimizer.cache import CachedImage, CacheKey, cache_from_settings, cache_key, original_of
from image_optimizer.cache.memory import MemoryCache
from image_optimizer.request import parse_query
from image_optimizer.service import entity_tag
from image_optimizer.settings import Settings


def image(size: int, tag: str = "x") -> CachedImage:
    return CachedImage(b"\x00" * size, "image/webp", f'"{tag}"', 1, 1)


def key(name: str, original: str = "o") -> CacheKey:
    return CacheKey(original, name)


def put(cache: MemoryCache, name: str, stored: CachedImage, original: str = "o") -> None:
    """Store as a request that made the image does: through its claim."""
    cache.claim(key(name, original), time.monotonic() + 1).store(stored)


def test_the_least_recently_used_goes_first() -> None:
    cache = MemoryCache(300)
    put(cache, "a", image(100, "a"))
    put(cache, "b", image(100, "b"))
    put(cache, "c", image(100, "c"))
    assert cache.get(key("a")) is not None  # a is now the most recently used
    put(cache, "d", image(100, "d"))
    assert cache.get(key("b")) is None
    assert [cache.get(key(name)) is not None for name in "acd"] == [True, True, True]


def test_the_bytes_held_are_counted_through_replacements_and_evictions() -> None:
    cache = MemoryCache(300)
    for _ in range(5):
        put(cache, "a", image(100))  # the same key again and again holds 100 bytes, not 500
    put(cache, "b", image(200))
    assert cache.get(key("a")) is not None
    assert cache.get(key("b")) is not None
    put(cache, "c", image(150))  # needs 150: a (least recent) and then b go
    assert (cache.get(key("a")), cache.get(key("b"))) == (None, None)
    put(cache, "d", image(150))
    assert cache.get(key("c")) is not None  # 300 bytes in all: exactly full, nothing evicted
    assert cache.get(key("d")) is not None
    put(cache, "e", image(1))
    assert cache.get(key("c")) is None


def test_an_image_as_large_as_the_cache_fits_and_a_larger_one_is_not_kept() -> None:
    cache = MemoryCache(300)
    put(cache, "small", image(10))
    put(cache, "huge", image(301))
    assert cache.get(key("huge")) is None
    assert cache.get(key("small")) is not None  # refusing the huge one evicted nothing
    put(cache, "exact", image(300))
    assert cache.get(key("exact")) is not None
    assert cache.get(key("small")) is None


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
    """Known answers from `printf '%s' '1|landscapes/main.jpg|w=400&h=&fit=cover&format=webp&q=80'
    | sha256sum` (the format version, the object key and the canonical transform) and
    `printf '%s' landscapes/main.jpg | sha256sum | cut -c1-32` (the original's part)."""
    spec = parse_query("format=webp&w=0400", None, 4096)
    assert cache_key("landscapes/main.jpg", spec) == CacheKey(
        "131b8ef4c1b1619375dc5a65aa347604",
        "69392061ecf588e094e3a1c201fb1862da0a211c4cc809cd1252a87fe8c3518d",
    )


def test_a_purge_removes_every_variant_of_its_original_and_nothing_else() -> None:
    cache = MemoryCache(1000)
    main, other = original_of("landscapes/main.jpg"), original_of("other.jpg")
    put(cache, "w100", image(100), other)
    put(cache, "w100", image(300), main)
    put(cache, "w200", image(200), main)
    assert cache.purge("landscapes/main.jpg") == 2
    assert cache.get(key("w100", main)) is None
    assert cache.get(key("w200", main)) is None
    assert cache.get(key("w100", other)) is not None
    assert cache.purge("landscapes/main.jpg") == 0
    for name in "abcde":  # the purged bytes are free again: 100 + 5 x 180 fill the cache
        put(cache, name, image(180), "third")
    assert all(cache.get(key(name, "third")) is not None for name in "abcde")
    assert cache.get(key("w100", other)) is not None  # the least recent, and still held


def test_a_purge_finds_the_variants_left_after_evictions_and_replacements() -> None:
    cache = MemoryCache(300)
    main = original_of("landscapes/main.jpg")
    for name in ("w100", "w200", "w300", "w200"):  # w200 replaced: the most recent now
        put(cache, name, image(100, name), main)
    put(cache, "w400", image(100), "another")  # evicts w100
    assert cache.purge("landscapes/main.jpg") == 2
    assert (cache.get(key("w200", main)), cache.get(key("w300", main))) == (None, None)
    assert cache.get(key("w400", "another")) is not None


def test_an_image_made_before_a_purge_is_not_stored_after_it() -> None:
    cache = MemoryCache(1000)
    main = original_of("landscapes/main.jpg")
    old = cache.claim(key("w100", main), time.monotonic() + 1)  # made from the old original
    cache.purge("landscapes/main.jpg")
    new = cache.claim(key("w100", main), time.monotonic() + 1)
    old.store(image(10, "old"))
    assert cache.get(key("w100", main)) is None
    new.store(image(10, "new"))
    assert cache.get(key("w100", main)) == image(10, "new")


def test_every_purge_outdates_the_claims_made_before_it() -> None:
    cache = MemoryCache(1000)
    main = original_of("landscapes/main.jpg")
    claims = []
    for _ in range(3):
        claims.append(cache.claim(key("w100", main), time.monotonic() + 1))
        cache.purge("landscapes/main.jpg")
    for claim in claims:
        claim.store(image(10, "outdated"))
    assert cache.get(key("w100", main)) is None


def test_the_etag_is_a_128_bit_blake2b_of_the_bytes() -> None:
    """Known answer from `printf '%s' hello | b2sum -l 128`."""
    assert entity_tag(b"hello") == '"46fb7408d4f285228f4af516ea25851b"'
