"""The result cache: one small protocol with Redis, in-process and no-op implementations.

A cache maps a key (see `cache_key`) to a `CachedImage`: everything needed to answer a request
without fetching or transforming anything. A cache never raises: when it cannot answer it is a
miss, when it cannot store it forgets. ``claim`` lets concurrent misses for one key share the work:
one request makes the image while the others wait, a bounded time, for its result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from image_optimizer.settings import Settings
from image_optimizer.spec import TransformSpec

CACHE_FORMAT_VERSION = "1"
"""Bump when the pipeline's output for the same spec changes, so old entries stop matching."""


@dataclass(frozen=True, slots=True)
class CachedImage:
    body: bytes
    content_type: str
    etag: str
    width: int
    height: int


def _nothing_to_release() -> None:
    return None


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of `Cache.claim`: another request's result, or the go-ahead to make it.

    ``image`` is set when another request made the image while this one waited; otherwise this
    request does the work, stores it, and then calls ``release`` (always, even on failure).
    """

    image: CachedImage | None = None
    release: Callable[[], None] = field(default=_nothing_to_release)


GO_AHEAD = Claim()
"""Do the work now: nobody else is making this image, or the cache cannot tell."""


class Cache(Protocol):
    def get(self, key: str) -> CachedImage | None: ...

    def set(self, key: str, image: CachedImage) -> None: ...

    def claim(self, key: str, deadline: float) -> Claim:
        """Become the one request that makes ``key``, or wait for the one that is.

        The wait is bounded by the cache's own limit and by ``deadline`` (`time.monotonic()`).
        """
        ...

    @property
    def failures(self) -> int:
        """How many calls to the cache's store have failed in this container."""
        ...

    def describe(self) -> str:
        """What this cache is, for logs and the local server's banner."""
        ...


def cache_key(image_key: str, spec: TransformSpec) -> str:
    material = f"{CACHE_FORMAT_VERSION}|{image_key}|{spec.canonical()}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def cache_from_settings(settings: Settings) -> Cache:
    if settings.redis_url:
        from image_optimizer.cache.redis import RedisCache  # redis-py only when it is used

        return RedisCache.from_settings(settings)
    if settings.memory_cache_bytes > 0:
        from image_optimizer.cache.memory import MemoryCache

        return MemoryCache(settings.memory_cache_bytes)
    from image_optimizer.cache.null import NullCache

    return NullCache()
