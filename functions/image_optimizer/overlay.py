"""A watermark's picture laid over an output image: decoded once, scaled to each output.

`decoded` turns the picture's bytes into an `Overlay` (RGBA, the watermark's opacity already in
its alpha) once per container; `Overlay.placed` scales it for one output size and says where it
goes; `composite` draws it over one frame. Pure pixel work: the bytes come from
`image_optimizer.watermarks`.
"""

from __future__ import annotations

from typing import NamedTuple

from PIL import Image

from image_optimizer import colour
from image_optimizer.decoders import decoding, opened
from image_optimizer.errors import OptimizerError
from image_optimizer.geometry import Size
from image_optimizer.watermarks import Watermark

RESAMPLING = Image.Resampling.LANCZOS


class Placed(NamedTuple):
    picture: Image.Image  # RGBA, the size it is drawn at
    offset: tuple[int, int]  # its top-left corner on the output


class Overlay(NamedTuple):
    watermark: Watermark
    picture: Image.Image  # RGBA, straight alpha, opacity applied

    def placed(self, canvas: Size) -> Placed | None:
        """The picture scaled for an output of ``canvas`` pixels, and where it goes; None when
        the output is narrower than the watermark's ``min_image_width``."""
        mark = self.watermark
        width, height = canvas
        if width < mark.min_image_width:
            return None
        margin = round(mark.margin * width)
        room = (max(1, width - 2 * margin), max(1, height - 2 * margin))
        own_width, own_height = self.picture.size
        # As wide as asked, unless that would not fit between the margins.
        scale = min(mark.width * width / own_width, room[0] / own_width, room[1] / own_height)
        size = (max(1, round(own_width * scale)), max(1, round(own_height * scale)))
        x, y = mark.position.anchor
        offset = (
            margin + round((room[0] - size[0]) * x),
            margin + round((room[1] - size[1]) * y),
        )
        if size == self.picture.size:
            return Placed(self.picture, offset)
        # Premultiplied, so that the colour of transparent pixels does not bleed into the edges.
        scaled = self.picture.convert("RGBa").resize(size, RESAMPLING).convert("RGBA")
        return Placed(scaled, offset)


def decoded(data: bytes, watermark: Watermark, max_pixels: int) -> Overlay:
    """The picture as RGBA with the watermark's opacity in its alpha; `ValueError` saying why
    when it is not an image a source could be (a format, a size, its decoding)."""
    try:
        image = opened(data, max_pixels)
        with decoding(max_pixels):
            picture = image.convert("RGBA")
    except OptimizerError as refusal:
        raise ValueError(refusal.message) from None
    if watermark.opacity < 1:
        alpha = picture.getchannel("A").point(lambda a: round(a * watermark.opacity))
        picture.putalpha(alpha)
    return Overlay(watermark, picture)


def composite(image: Image.Image, placed: Placed) -> Image.Image:
    """``image`` with the picture drawn over it; grey images become colour ones, since the
    picture may have colour. The result is a new image: ``image`` is left as it was."""
    if image.mode in ("L", "LA"):
        image = image.convert("RGBA" if image.mode == "LA" else "RGB")
    else:
        image = image.copy()
    if image.mode == "RGBA":
        image.alpha_composite(placed.picture, dest=placed.offset)
    elif image.mode == "YCbCr":  # a JPEG's pixels as stored: the picture converted alike
        picture = placed.picture
        image.paste(colour.ycbcr_of(picture.convert("RGB")), placed.offset, picture)
    else:
        image.paste(placed.picture, placed.offset, placed.picture)
    return image
