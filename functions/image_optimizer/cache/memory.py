"""An in-process LRU cache bounded by the bytes of the images it holds.

It does not coalesce concurrent misses: a Lambda container runs one request at a time, so
there is nothing to share within a process there; across containers, Redis does it. A purge
finds an original's variants through an index kept beside the entries, and counts the
original's purges (its epoch) so that a claim made before a purge stores nothing after it.

For the local server and for warm Lambda containers. Thread-safe, because the local server
answers requests on several threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from functools import partial

from image_optimizer.cache import CachedImage, CacheKey, Claim, original_of


class MemoryCache:
    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[CacheKey, CachedImage] = OrderedDict()
        self._variants: defaultdict[str, set[CacheKey]] = defaultdict(set)
        self._epochs: dict[str, int] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"memory ({self._max_bytes} bytes)"

    def get(self, key: CacheKey) -> CachedImage | None:
        with self._lock:
            image = self._items.get(key)
            if image is not None:
                self._items.move_to_end(key)
            return image

    def claim(self, key: CacheKey, deadline: float) -> Claim:
        with self._lock:
            epoch = self._epochs.get(key.original, 0)
        return Claim(store=partial(self._store, key, epoch))

    def purge(self, image_key: str) -> int:
        original = original_of(image_key)
        with self._lock:
            self._epochs[original] = self._epochs.get(original, 0) + 1
            variants = self._variants.pop(original, set())
            for key in variants:
                self._bytes -= len(self._items.pop(key).body)
            return len(variants)

    @property
    def failures(self) -> int:
        return 0  # nothing outside the process to fail

    def _store(self, key: CacheKey, epoch: int, image: CachedImage) -> None:
        size = len(image.body)
        if size > self._max_bytes:
            return
        with self._lock:
            if self._epochs.get(key.original, 0) != epoch:
                return  # the original was purged while this image was being made from it
            self._discard(key)
            self._items[key] = image
            self._variants[key.original].add(key)
            self._bytes += size
            while self._bytes > self._max_bytes:
                self._discard(next(iter(self._items)))  # the least recently used

    def _discard(self, key: CacheKey) -> None:
        image = self._items.pop(key, None)
        if image is None:
            return
        self._bytes -= len(image.body)
        variants = self._variants[key.original]
        variants.discard(key)
        if not variants:
            del self._variants[key.original]
