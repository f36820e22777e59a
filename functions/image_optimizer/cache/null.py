"""The cache that keeps nothing: every request is a miss."""

from __future__ import annotations

from image_optimizer.cache import GO_AHEAD, CachedImage, Claim


class NullCache:
    def describe(self) -> str:
        return "none"

    def get(self, key: str) -> CachedImage | None:
        return None

    def set(self, key: str, image: CachedImage) -> None:
        return None

    def claim(self, key: str, deadline: float) -> Claim:
        return GO_AHEAD

    @property
    def failures(self) -> int:
        return 0  # nothing outside the process to fail
