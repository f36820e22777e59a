"""The result cache: one small protocol with Redis, in-process and no-op implementations.

A cache maps a `CacheKey` (see `cache_key`) to a `CachedImage`: everything needed to answer a
request without fetching or transforming anything. Serving never fails because of the cache:
when it cannot answer it is a miss, when it cannot store it forgets. ``claim`` lets concurrent
misses for one key share the work: one request makes the image while the others wait, a bounded
time, for its result; the one that makes it stores it through its claim. ``purge`` removes every
variant of one original when the original changes, and the claims made before a purge store
nothing after it, so an image made from the old original cannot come back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import NamedTuple, Protocol

from image_optimizer.settings import Settings
from image_optimizer.spec import TransformSpec

CACHE_FORMAT_VERSION = "1"
"""Bump when the pipeline's output for the same spec changes, so old entries stop matching."""


class Elsewhere(NamedTuple):
    """Where a result too large for a response is served from (see `image_optimizer.results`)."""

    location: str  # a path on the same host: /results/<original>/<variant>/<etag>
    size: int  # its bytes
    until: float  # the Unix time after which it may be gone


class CachedImage(NamedTuple):
    body: bytes  # empty when the image is kept ``elsewhere``
    content_type: str
    etag: str
    width: int
    height: int
    elsewhere: Elsewhere | None = None

    @property
    def size(self) -> int:
        return self.elsewhere.size if self.elsewhere is not None else len(self.body)


class CacheKey(NamedTuple):
    """Where one variant of one original lives.

    ``variant`` is the SHA-256 (hex) of ``<version>|<object key>|<canonical spec>``, followed by
    ``|<identity>`` of each watermark drawn on it (see `WatermarkPicture.identity`); ``original``
    is the first 32 hex digits of the SHA-256 of the object key alone, shared by all its
    variants, so that a purge finds them (and Redis keeps them in one hash slot).
    """

    original: str
    variant: str


def cache_key(image_key: str, spec: TransformSpec, watermarks: tuple[str, ...] = ()) -> CacheKey:
    """``watermarks``: the identities of the pictures drawn on it, so that a result is never
    shared between two pictures under one name (or a deployment's always-on one and none)."""
    material = "|".join((CACHE_FORMAT_VERSION, image_key, spec.canonical(), *watermarks))
    return CacheKey(original_of(image_key), hashlib.sha256(material.encode("utf-8")).hexdigest())


def original_of(image_key: str) -> str:
    """What every variant of the original ``image_key`` has in common in its `CacheKey`."""
    return hashlib.sha256(image_key.encode("utf-8")).hexdigest()[:32]


def _nothing(*_: object) -> None:
    return None


class Claim(NamedTuple):
    """The outcome of `Cache.claim`: another request's result, or the go-ahead to make it.

    ``image`` is set when another request made the image while this one waited; otherwise this
    request makes it, hands it to ``store`` (kept unless the original was purged since the
    claim was made), and then calls ``release`` (always, even on failure).
    """

    image: CachedImage | None = None
    store: Callable[[CachedImage], None] = _nothing
    release: Callable[[], None] = _nothing


GO_AHEAD = Claim()
"""Make the image now and keep nothing: the cache cannot take part (it failed, or keeps none)."""


class CacheUnavailable(Exception):
    """A purge could not be done: the caller must try again, or the old images stay."""


class Cache(Protocol):
    def get(self, key: CacheKey) -> CachedImage | None: ...

    def claim(self, key: CacheKey, deadline: float) -> Claim:
        """Become the one request that makes ``key``, or wait for the one that is.

        The wait is bounded by the cache's own limit and by ``deadline`` (`time.monotonic()`).
        """
        ...

    def purge(self, image_key: str) -> int:
        """Remove every variant of the original ``image_key``; returns how many there were.

        Unlike the other calls this one raises (`CacheUnavailable`) when it cannot be done.
        """
        ...

    @property
    def failures(self) -> int:
        """How many calls to the cache's store have failed in this container."""
        ...

    def describe(self) -> str:
        """What this cache is, for logs and the local server's banner."""
        ...


def cache_from_settings(settings: Settings) -> Cache:
    if settings.redis_url:
        from image_optimizer.cache.redis import RedisCache  # redis-py only when it is used

        return RedisCache.from_settings(settings)
    if settings.memory_cache_bytes > 0:
        from image_optimizer.cache.memory import MemoryCache

        return MemoryCache(settings.memory_cache_bytes)
    from image_optimizer.cache.null import NullCache

    return NullCache()
