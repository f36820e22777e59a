"""The one path through: key + spec -> cache -> source -> pipeline -> cache -> `Served`.

HTTP knows nothing of this module and this module knows nothing of HTTP: the handler turns a
request into ``service.serve(key, spec)`` and the `Served` it gets back into a response. A
result larger than the caller can send goes to the results store, when there is one, and what
is served (and cached) then says where it is (`CachedImage.elsewhere`).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

from image_optimizer.cache import (
    Cache,
    CachedImage,
    CacheKey,
    Elsewhere,
    cache_from_settings,
    cache_key,
)
from image_optimizer.errors import ImageNotFound, TimeBudgetExceeded
from image_optimizer.results import RESULTS_PATH, ResultStore, results_from_settings
from image_optimizer.settings import DEFAULT_MAX_ANIMATION_FRAMES, Settings
from image_optimizer.sources import Source, source_from_settings
from image_optimizer.spec import TransformSpec
from image_optimizer.timing import Stopwatch
from image_optimizer.tracing import Spans, no_spans, xray_spans
from image_optimizer.watermarks import WatermarkPicture, WatermarkPictures

if TYPE_CHECKING:
    from image_optimizer.pipeline import Rendition


class Served(NamedTuple):
    key: str
    image: CachedImage
    cache_status: str  # "hit" or "miss"
    timings: dict[str, float]  # milliseconds per stage
    total_ms: float
    cache_errors: int = 0  # cache calls that failed during this request
    rendition: Rendition | None = None  # on a miss: how the image was made
    source_bytes: int | None = None  # on a miss: the size of the original
    missing: bool = False  # the original is missing: this is the fallback image, made as asked


class ImageService:
    def __init__(
        self,
        source: Source,
        cache: Cache,
        *,
        max_source_pixels: int,
        spans: Spans = no_spans,
        max_output_bytes: float = math.inf,
        results: ResultStore | None = None,
        max_frames: int = DEFAULT_MAX_ANIMATION_FRAMES,
        watermarks: WatermarkPictures | None = None,
        fallback_key: str | None = None,
    ) -> None:
        self.source = source
        self.cache = cache
        self.results = results
        self.watermarks = watermarks or WatermarkPictures(source, {})
        self._fallback_key = fallback_key
        self._max_source_pixels = max_source_pixels
        self._spans = spans
        self._max_output_bytes = max_output_bytes
        self._max_frames = max_frames

    @classmethod
    def from_settings(cls, settings: Settings, max_output_bytes: float = math.inf) -> ImageService:
        """``max_output_bytes``: what the caller can send; a larger result goes to the results
        store when the settings name one, else it is `OutputTooLarge`."""
        source = source_from_settings(settings)
        return cls(
            source,
            cache_from_settings(settings),
            max_source_pixels=settings.max_source_pixels,
            spans=xray_spans() if settings.tracing_enabled else no_spans,
            max_output_bytes=max_output_bytes,
            results=results_from_settings(settings),
            max_frames=settings.max_animation_frames,
            watermarks=WatermarkPictures(
                source,
                settings.watermarks,
                always=settings.watermark_always,
                check_seconds=settings.watermark_check_seconds,
            ),
            fallback_key=settings.fallback_key,
        )

    @contextmanager
    def _stage(self, timings: Stopwatch, name: str) -> Iterator[None]:
        """Time a stage for Server-Timing and the log record, and trace it when tracing is on."""
        with timings.measure(name), self._spans(name):
            yield

    def serve(self, key: str, spec: TransformSpec, deadline: float = math.inf) -> Served:
        """The image for ``key`` and ``spec``, made no later than ``deadline`` (monotonic time).

        When ``key`` is missing and the deployment has a fallback image, that image made with
        ``spec`` instead, marked `Served.missing` (its variants are the fallback's own cache
        entries, so a purge of the fallback reaches them); when the fallback is missing too,
        the original's `ImageNotFound`."""
        try:
            return self._serve(key, spec, deadline)
        except ImageNotFound:
            if self._fallback_key is None or key == self._fallback_key:
                raise
            try:
                fallback = self._serve(self._fallback_key, spec, deadline)
            except ImageNotFound:
                pass
            else:
                return fallback._replace(key=key, missing=True)
            raise

    def _serve(self, key: str, spec: TransformSpec, deadline: float) -> Served:
        timings = Stopwatch()
        failures_before = self.cache.failures
        marks = ()
        if not spec.facts and self.watermarks.names(spec.watermark):  # facts carry none
            with self._stage(timings, "watermark"):  # a read of the source now and then
                marks = self.watermarks.pictures(spec.watermark)
        entry = cache_key(key, spec, tuple(mark.identity for mark in marks))
        with self._stage(timings, "cache"):
            image = _still_there(self.cache.get(entry))
        rendition: Rendition | None = None
        source_bytes: int | None = None
        if image is None:
            with self._stage(timings, "wait"):
                claim = self.cache.claim(entry, deadline)
            try:
                image = _still_there(claim.image)  # made by another while this one waited
                if image is None:
                    if time.monotonic() > deadline:
                        raise TimeBudgetExceeded("no time was left to make the image; try again")
                    with self._stage(timings, "fetch"):
                        data = self.source.fetch(key)
                    source_bytes = len(data)
                    with self._spans("transform"):  # the pipeline times its own stages
                        rendition = self._made(data, spec, deadline, marks)
                    for stage, milliseconds in rendition.timings.items():
                        timings.add(stage, milliseconds)
                    image = _cacheable(rendition)
                    if self.results is not None and image.size > self._max_output_bytes:
                        with self._stage(timings, "upload"):
                            image = _kept_in(self.results, entry, image)
                    with self._stage(timings, "store"):
                        claim.store(image)
            finally:
                claim.release()
        return Served(
            key=key,
            image=image,
            cache_status="miss" if rendition is not None else "hit",
            timings=timings.stages,
            total_ms=timings.total(),
            cache_errors=self.cache.failures - failures_before,
            rendition=rendition,
            source_bytes=source_bytes,
        )

    def _made(
        self,
        data: bytes,
        spec: TransformSpec,
        deadline: float,
        marks: tuple[WatermarkPicture, ...],
    ) -> Rendition:
        """The image made from the source's ``data``, or the facts about it (format=json).
        Pillow is imported by the first miss, not with the handler: a cache hit has no use for
        it (~50 ms of a container's start on the benchmark machine)."""
        if spec.facts:
            from image_optimizer.facts import describe

            return describe(data, max_pixels=self._max_source_pixels, max_frames=self._max_frames)
        from image_optimizer.pipeline import render

        # With a results store any size can be delivered; without, the encoder is stopped as
        # soon as its output passes what the caller can send.
        return render(
            data,
            spec,
            max_pixels=self._max_source_pixels,
            deadline=deadline,
            max_bytes=math.inf if self.results is not None else self._max_output_bytes,
            max_frames=self._max_frames,
            overlays=[mark.overlay(self._max_source_pixels) for mark in marks],
        )


def _cacheable(rendition: Rendition) -> CachedImage:
    return CachedImage(
        body=rendition.body,
        content_type=rendition.output_format.mime_type,
        etag=entity_tag(rendition.body),
        width=rendition.width,
        height=rendition.height,
    )


def _kept_in(results: ResultStore, entry: CacheKey, image: CachedImage) -> CachedImage:
    """``image`` put in the results store: what to serve and cache instead is where it is."""
    location = results.put(entry, image)
    # Trusted for an hour less than the store keeps it, so it is never sent for a moment too long.
    until = time.time() + results.lifetime_seconds - 3600
    return image._replace(body=b"", elsewhere=Elsewhere(location, len(image.body), until))


def _still_there(image: CachedImage | None) -> CachedImage | None:
    """``image``, unless it is kept in the results store for no longer, or says it is kept
    anywhere but there (a value no code of ours wrote: a redirect elsewhere is never sent):
    then it is a miss."""
    if image is None or image.elsewhere is None:
        return image
    if time.time() >= image.elsewhere.until or not image.elsewhere.location.startswith(
        f"/{RESULTS_PATH}"
    ):
        return None
    return image


def entity_tag(body: bytes) -> str:
    """A strong ETag from the bytes themselves: the same output always has the same tag."""
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
