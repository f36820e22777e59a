"""Watermarks: the pictures an operator names in ``WATERMARKS``, and where each goes.

``WATERMARKS`` is a JSON object, name -> placement::

    {"logo": {"key": "brand/logo.png", "position": "bottom-right", "width": 0.2,
              "opacity": 0.6, "margin": 0.02, "min_image_width": 320}}

``key`` is the picture's key in the source (as an image's, under ``SOURCE_PREFIX``); the rest are
optional. A URL asks for one with ``watermark=<name>``; ``WATERMARK_ALWAYS`` names one that every
image gets, whatever the URL says. `WatermarkPictures` reads each picture from the source once per
container and again every ``WATERMARK_CHECK_SECONDS``, so that a replaced picture reaches every
container within that time; its `WatermarkPicture.identity` (the placement and the picture's
bytes) goes into the cache key, so a result made with an old picture is never served for the new.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from image_optimizer.errors import (
    ImageNotFound,
    SourceTooLarge,
    SourceUnavailable,
    WatermarkUnavailable,
)
from image_optimizer.parameters import WATERMARK_NAME, Position

if TYPE_CHECKING:
    from image_optimizer.overlay import Overlay
    from image_optimizer.sources import Source

DEFAULT_CHECK_SECONDS = 60
_PLACES = tuple(position for position in Position if not position.chooses_by_looking)


class Watermark(NamedTuple):
    name: str
    key: str  # the picture's key in the source
    position: Position = Position.BOTTOM_RIGHT  # one of the nine places
    width: float = 0.25  # of the output's width; smaller when it would not fit
    opacity: float = 1.0  # times the picture's own alpha
    margin: float = 0.02  # between it and the edges, as a fraction of the output's width
    min_image_width: int = 0  # an output narrower than this goes without

    def placement(self) -> str:
        """Everything but the picture that decides the result, in one stable form."""
        return json.dumps(self._asdict(), sort_keys=True, separators=(",", ":"))


def read_watermarks(raw: str) -> dict[str, Watermark]:
    """``WATERMARKS`` as watermarks by name; `ValueError` saying what is wrong."""
    if not raw.strip():
        return {}
    try:
        given = json.loads(raw)
    except ValueError:
        raise ValueError('is not JSON: write {"logo": {"key": "brand/logo.png"}}') from None
    if not isinstance(given, dict):
        raise ValueError("must be a JSON object of name -> placement")
    return {name: _watermark(name, placement) for name, placement in given.items()}


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "key": (lambda v: isinstance(v, str) and bool(v) and not v.endswith("/"), "an object key"),
    "position": (lambda v: v in _PLACES, f"one of {', '.join(_PLACES)}"),
    "width": (lambda v: _number(v) and 0 < v <= 1, "a number above 0 and at most 1"),
    "opacity": (lambda v: _number(v) and 0 < v <= 1, "a number above 0 and at most 1"),
    "margin": (lambda v: _number(v) and 0 <= v < 0.5, "a number from 0 to below 0.5"),
    "min_image_width": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 16384,
        "an integer from 0 to 16384",
    ),
}


def _watermark(name: str, placement: object) -> Watermark:
    if not re.fullmatch(WATERMARK_NAME, name):
        raise ValueError(
            f"names {name!r}: a name is a-z, 0-9, _ and - (not first), at most 32 characters"
        )
    if not isinstance(placement, dict) or "key" not in placement:
        raise ValueError(f"{name!r} must be an object with at least a key")
    unknown = sorted(set(placement) - set(_CHECKS))
    if unknown:
        raise ValueError(f"{name!r} has {', '.join(unknown)}; known: {', '.join(_CHECKS)}")
    for setting, value in placement.items():
        check, expected = _CHECKS[setting]
        if not check(value):
            raise ValueError(f"{name!r}'s {setting} must be {expected}, got {value!r}")
    if "position" in placement:
        placement = {**placement, "position": Position(placement["position"])}
    return Watermark(name=name, **placement)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class WatermarkPicture:
    """One watermark as this container holds it: its picture's bytes, read at ``checked``
    (monotonic time), and ``identity``, which names both the watermark and its bytes."""

    def __init__(self, watermark: Watermark, data: bytes, checked: float) -> None:
        self.watermark, self.data, self.checked = watermark, data, checked
        digest = hashlib.sha256(watermark.placement().encode("utf-8"))
        digest.update(data)
        self.identity = f"{watermark.name}:{digest.hexdigest()[:32]}"
        self._overlay: Overlay | None = None

    def overlay(self, max_pixels: int) -> Overlay:
        """The picture decoded, once (Pillow is imported here: a cache hit needs only bytes)."""
        if self._overlay is None:
            from image_optimizer.overlay import decoded

            try:
                self._overlay = decoded(self.data, self.watermark, max_pixels)
            except ValueError as error:
                raise _unavailable(self.watermark, str(error)) from None
        return self._overlay


class WatermarkPictures:
    """The pictures of a deployment's watermarks, read from its source when first needed and
    again once ``check_seconds`` have passed (a read that fails then keeps the held copy)."""

    def __init__(
        self,
        source: Source,
        watermarks: Mapping[str, Watermark],
        *,
        always: str | None = None,
        check_seconds: float = DEFAULT_CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._watermarks = watermarks
        self._always = always
        self._check_seconds = check_seconds
        self._clock = clock
        self._held: dict[str, WatermarkPicture] = {}

    def names(self, asked: str | None) -> tuple[str, ...]:
        """The watermarks an image gets: the URL's, then the deployment's own on top."""
        return tuple(dict.fromkeys(name for name in (asked, self._always) if name))

    def pictures(self, asked: str | None) -> tuple[WatermarkPicture, ...]:
        return tuple(self._picture(name) for name in self.names(asked))

    def _picture(self, name: str) -> WatermarkPicture:
        held = self._held.get(name)
        now = self._clock()
        if held is not None and now < held.checked + self._check_seconds:
            return held
        watermark = self._watermarks[name]
        try:
            data = self._source.fetch(watermark.key)
        except ImageNotFound:
            raise _unavailable(watermark, "is not in the source") from None
        except SourceTooLarge as error:
            raise _unavailable(watermark, error.message) from None
        except SourceUnavailable:
            if held is None:
                raise
            held.checked = now  # the copy held is the best there is; ask again later
            return held
        if held is not None and held.data == data:
            held.checked = now  # unchanged: keep the decoded picture
            return held
        self._held[name] = WatermarkPicture(watermark, data, now)
        return self._held[name]


def _unavailable(watermark: Watermark, why: str) -> WatermarkUnavailable:
    """The answer names the watermark; the log (``reason``) also where its picture is."""
    return WatermarkUnavailable(
        f"this deployment's watermark {watermark.name!r} cannot be used; it has been logged",
        reason=f"{watermark.key}: {why}",
    )
