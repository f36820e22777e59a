"""Where the output pixels come from: the crop of the source and the sizes, for every `fit`.

Pure arithmetic in the displayed (EXIF-oriented) frame. Images are never enlarged: when the box
asked for is bigger than the source allows, the box is scaled down as a whole, so the output
keeps the box's aspect ratio (a 800x800 ``cover`` of a 400x300 image is a 300x300 crop).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from image_optimizer.spec import Fit, TransformSpec

Box = tuple[float, float, float, float]
Size = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Geometry:
    crop: Box  # the region of the source to keep: left, top, right, bottom
    size: Size  # the size that region is resized to
    canvas: Size  # the output size; larger than `size` only for `contain`, which pads

    @property
    def offset(self) -> tuple[int, int]:
        """Where the resized image sits on the canvas: centred."""
        return (self.canvas[0] - self.size[0]) // 2, (self.canvas[1] - self.size[1]) // 2


def plan(source: Size, spec: TransformSpec) -> Geometry:
    width, height = source
    full: Box = (0.0, 0.0, float(width), float(height))
    w, h = spec.width, spec.height
    if w is None:
        if h is None:
            return Geometry(full, source, source)
        return _uniform(full, source, min(1.0, h / height))
    if h is None:
        return _uniform(full, source, min(1.0, w / width))
    match spec.fit:
        case Fit.INSIDE:
            return _uniform(full, source, min(1.0, w / width, h / height))
        case Fit.OUTSIDE:
            return _uniform(full, source, min(1.0, max(w / width, h / height)))
        case Fit.FILL:
            box = _shrunk_box(w, h, max(w / width, h / height))
            return Geometry(full, box, box)
        case Fit.CONTAIN:
            scale = min(w / width, h / height)
            canvas = _shrunk_box(w, h, scale)
            size = _scaled(source, min(1.0, scale))
            return Geometry(full, (min(size[0], canvas[0]), min(size[1], canvas[1])), canvas)
        case Fit.COVER:
            scale = max(w / width, h / height)
            box = _shrunk_box(w, h, scale)
            scale = min(1.0, scale)
            crop_w, crop_h = min(width, box[0] / scale), min(height, box[1] / scale)
            left, top = math.floor((width - crop_w) / 2), math.floor((height - crop_h) / 2)
            return Geometry((left, top, left + crop_w, top + crop_h), box, box)


def _uniform(full: Box, source: Size, scale: float) -> Geometry:
    size = _scaled(source, scale)
    return Geometry(full, size, size)


def _scaled(size: Size, scale: float) -> Size:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _shrunk_box(w: int, h: int, scale: float) -> Size:
    """The requested box, scaled down as a whole when filling it would need enlargement."""
    if scale <= 1.0:
        return w, h
    return max(1, round(w / scale)), max(1, round(h / scale))
