"""Where the output pixels come from: the crop of the source and the sizes, for every `fit`.

Pure arithmetic in the displayed (EXIF-oriented) frame. Images are never enlarged: when the box
asked for is bigger than the source allows, the box is scaled down as a whole, so the output
keeps the box's aspect ratio (a 800x800 ``cover`` of a 400x300 image is a 300x300 crop).
A ``cover`` crop sits where the spec's position or focal point says; the strategies that must
look at the pixels (entropy, attention) are planned centred and moved by the pipeline with
`moved_to`. A ``contain`` canvas places the picture where the position says.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from image_optimizer.parameters import Fit
from image_optimizer.spec import TransformSpec

Box = tuple[float, float, float, float]
Size = tuple[int, int]


class Geometry(NamedTuple):
    crop: Box  # the region of the source to keep: left, top, right, bottom
    size: Size  # the size that region is resized to
    canvas: Size  # the output size; larger than `size` only for `contain`, which pads
    anchor: tuple[float, float] = (0.5, 0.5)  # where the picture sits on a larger canvas

    @property
    def offset(self) -> tuple[int, int]:
        """Where the resized image sits on the canvas (its top-left corner)."""
        room_x, room_y = self.canvas[0] - self.size[0], self.canvas[1] - self.size[1]
        return math.floor(room_x * self.anchor[0]), math.floor(room_y * self.anchor[1])

    def moved_to(self, left: float, top: float, source: Size) -> Geometry:
        """The same crop, moved to ``left``, ``top`` (kept inside the ``source``)."""
        width, height = self.crop[2] - self.crop[0], self.crop[3] - self.crop[1]
        left = math.floor(min(max(left, 0), source[0] - width))
        top = math.floor(min(max(top, 0), source[1] - height))
        return self._replace(crop=(left, top, left + width, top + height))


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
            size = (min(size[0], canvas[0]), min(size[1], canvas[1]))
            return Geometry(full, size, canvas, spec.position.anchor)
        case Fit.COVER:
            scale = max(w / width, h / height)
            box = _shrunk_box(w, h, scale)
            scale = min(1.0, scale)
            crop_w, crop_h = min(width, box[0] / scale), min(height, box[1] / scale)
            centred = Geometry((0.0, 0.0, crop_w, crop_h), box, box)
            if spec.focus is not None:  # the focal point as near the crop's centre as it goes
                fx, fy = spec.focus
                return centred.moved_to(fx * width - crop_w / 2, fy * height - crop_h / 2, source)
            ax, ay = spec.position.anchor  # centre for the strategies, which the pipeline moves
            return centred.moved_to((width - crop_w) * ax, (height - crop_h) * ay, source)


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
