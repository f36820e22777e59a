"""The result cache: one small protocol with in-process and no-op implementations.

A cache maps a key (see `cache_key`) to a `CachedImage`: everything needed to answer a request
without fetching or transforming anything. A cache never raises: when it cannot answer it is a
miss, when it cannot store it forgets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
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


class Cache(Protocol):
    def get(self, key: str) -> CachedImage | None: ...

    def set(self, key: str, image: CachedImage) -> None: ...

    def describe(self) -> str:
        """What this cache is, for logs and the local server's banner."""
        ...


def cache_key(image_key: str, spec: TransformSpec) -> str:
    material = f"{CACHE_FORMAT_VERSION}|{image_key}|{spec.canonical()}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def cache_from_settings(settings: Settings) -> Cache:
    if settings.memory_cache_bytes > 0:
        from image_optimizer.cache.memory import MemoryCache

        return MemoryCache(settings.memory_cache_bytes)
    from image_optimizer.cache.null import NullCache

    return NullCache()
