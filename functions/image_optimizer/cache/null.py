"""The cache that keeps nothing: every request is a miss, and a purge has nothing to do."""

from __future__ import annotations

from image_optimizer.cache import GO_AHEAD, CachedImage, CacheKey, Claim


class NullCache:
    def describe(self) -> str:
        return "none"

    def get(self, key: CacheKey) -> CachedImage | None:
        return None

    def claim(self, key: CacheKey, deadline: float) -> Claim:
        return GO_AHEAD

    def purge(self, image_key: str) -> int:
        return 0

    @property
    def failures(self) -> int:
        return 0  # nothing outside the process to fail
