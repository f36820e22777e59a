"""``format=json``: what a page needs to know of an image before it loads, and a placeholder.

The answer describes the source as it is displayed (after its orientation)::

    {"width": 3024, "height": 4032, "format": "heif", "frames": 1, "alpha": false,
     "bytes": 792052, "color": "#6b7f8e", "thumbhash": "1QcSHQRnh493V4dIh4eXh1h4kJUI",
     "placeholder": "data:image/webp;base64,..."}

``width`` and ``height`` reserve the space (no layout shift); ``color`` is the commonest colour
of the visible pixels; ``thumbhash`` is a ThumbHash (base64) for pages that draw their own;
``placeholder`` is a tiny WebP to show as it is, blurred by the browser's scaling (Next.js'
``blurDataURL``). Only the header and a small decode are read: a JPEG is decoded at 1/8 scale.
"""

from __future__ import annotations

import base64
import io
import json
import time

from PIL import Image

from image_optimizer import orientation, thumbhash
from image_optimizer.decoders import decoding, opened
from image_optimizer.formats import FACTS
from image_optimizer.pipeline import Rendition, frames_up_to, has_alpha

PLACEHOLDER_SIDE = 16  # pixels on its longer side: about 150 bytes as WebP
PLACEHOLDER_QUALITY = 50
_VISIBLE = 128  # the alpha from which a pixel counts for the colour


def describe(data: bytes, *, max_pixels: int, max_frames: int) -> Rendition:
    """The facts about the image ``data``, as a `Rendition` whose body is their JSON."""
    started = time.perf_counter()
    image = opened(data, max_pixels)
    turned = orientation.read(image, data)
    width, height = orientation.displayed_size(image.size, turned)
    with decoding(max_pixels):
        frames = frames_up_to(image, max_frames)
        transparent = has_alpha(image)
        image.thumbnail((thumbhash.MAX_SIDE, thumbhash.MAX_SIDE), reducing_gap=2.0)  # drafts
    small = orientation.upright(image.convert("RGBA"), turned)
    decoded_ms = (time.perf_counter() - started) * 1000
    source_format = "jpeg" if image.format == "MPO" else (image.format or "").lower()
    facts = {
        "width": width,
        "height": height,
        "format": source_format,
        "frames": frames,
        "alpha": transparent,
        "bytes": len(data),
        "color": _commonest_colour(small),
        "thumbhash": base64.b64encode(
            thumbhash.encode(small.width, small.height, small.tobytes())
        ).decode("ascii"),
        "placeholder": _placeholder(small, transparent),
    }
    body = json.dumps(facts, separators=(",", ":")).encode("utf-8")
    timings = {"decode": decoded_ms, "facts": (time.perf_counter() - started) * 1000 - decoded_ms}
    return Rendition(body, FACTS, width, height, image.format or "", width, height, timings, frames)


def _commonest_colour(small: Image.Image) -> str:
    """The commonest of eight colours the visible pixels are reduced to, as #rrggbb."""
    reduced = small.quantize(colors=8, method=Image.Quantize.FASTOCTREE)
    palette = reduced.getpalette("RGBA") or []
    counts = sorted(reduced.getcolors() or [], reverse=True)
    visible = [index for _, index in counts if palette[index * 4 + 3] >= _VISIBLE]
    index = visible[0] if visible else counts[0][1]
    red, green, blue = palette[index * 4 : index * 4 + 3]
    return f"#{red:02x}{green:02x}{blue:02x}"


def _placeholder(small: Image.Image, transparent: bool) -> str:
    tiny = small.copy()
    tiny.thumbnail((PLACEHOLDER_SIDE, PLACEHOLDER_SIDE), Image.Resampling.LANCZOS)
    if not transparent:
        tiny = tiny.convert("RGB")
    buffer = io.BytesIO()
    tiny.save(buffer, "WEBP", quality=PLACEHOLDER_QUALITY, method=4)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
