"""The one path through: key + spec -> cache -> source -> pipeline -> cache -> `Served`.

HTTP knows nothing of this module and this module knows nothing of HTTP: the handler turns a
request into ``service.serve(key, spec)`` and the `Served` it gets back into a response.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from image_optimizer.cache import Cache, CachedImage, cache_from_settings, cache_key
from image_optimizer.pipeline import Rendition, render
from image_optimizer.settings import Settings
from image_optimizer.sources import Source, source_from_settings
from image_optimizer.spec import TransformSpec
from image_optimizer.timing import Stopwatch


@dataclass(frozen=True, slots=True)
class Served:
    image: CachedImage
    cache_status: str  # "hit" or "miss"
    timings: Stopwatch
    rendition: Rendition | None = None  # on a miss: how the image was made
    source_bytes: int | None = None  # on a miss: the size of the original


class ImageService:
    def __init__(self, source: Source, cache: Cache, max_source_pixels: int) -> None:
        self.source = source
        self.cache = cache
        self._max_source_pixels = max_source_pixels

    @classmethod
    def from_settings(cls, settings: Settings) -> ImageService:
        return cls(
            source_from_settings(settings),
            cache_from_settings(settings),
            settings.max_source_pixels,
        )

    def serve(self, key: str, spec: TransformSpec) -> Served:
        timings = Stopwatch()
        entry = cache_key(key, spec)
        with timings.measure("cache"):
            cached = self.cache.get(entry)
        if cached is not None:
            return Served(cached, "hit", timings)
        with timings.measure("wait"):
            claim = self.cache.claim(entry)
        try:
            if claim.image is not None:  # another request made it while this one waited
                return Served(claim.image, "hit", timings)
            return self._make(key, spec, entry, timings)
        finally:
            claim.release()

    def _make(self, key: str, spec: TransformSpec, entry: str, timings: Stopwatch) -> Served:
        with timings.measure("fetch"):
            data = self.source.fetch(key)
        rendition = render(data, spec, self._max_source_pixels)
        for stage, milliseconds in rendition.timings.items():
            timings.add(stage, milliseconds)
        image = CachedImage(
            body=rendition.body,
            content_type=rendition.output_format.mime_type,
            etag=entity_tag(rendition.body),
            width=rendition.width,
            height=rendition.height,
        )
        with timings.measure("store"):
            self.cache.set(entry, image)
        return Served(image, "miss", timings, rendition, len(data))


def entity_tag(body: bytes) -> str:
    """A strong ETag from the bytes themselves: the same output always has the same tag."""
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
