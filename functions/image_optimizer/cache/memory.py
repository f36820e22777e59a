"""An in-process LRU cache bounded by the bytes of the images it holds.

It does not coalesce concurrent misses: a Lambda container runs one request at a time, so
there is nothing to share within a process there; across containers, Redis does it.

For the local server and for warm Lambda containers. Thread-safe, because the local server
answers requests on several threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from image_optimizer.cache import GO_AHEAD, CachedImage, Claim


class MemoryCache:
    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[str, CachedImage] = OrderedDict()
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"memory ({self._max_bytes} bytes)"

    def get(self, key: str) -> CachedImage | None:
        with self._lock:
            image = self._items.get(key)
            if image is not None:
                self._items.move_to_end(key)
            return image

    def set(self, key: str, image: CachedImage) -> None:
        size = len(image.body)
        if size > self._max_bytes:
            return
        with self._lock:
            previous = self._items.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous.body)
            self._items[key] = image
            self._bytes += size
            while self._bytes > self._max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= len(evicted.body)

    def claim(self, key: str, deadline: float) -> Claim:
        return GO_AHEAD

    @property
    def failures(self) -> int:
        return 0  # nothing outside the process to fail
