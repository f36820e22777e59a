"""Opening a source with Pillow: the decoders it may use, and its decoders' failures as the
source's fault (`CorruptImage`, `UnsupportedImage`, `ImageTooLarge`), never ours.

Every input format's decoder is in `formats.DECODERS`. HEIC and HEIF are read by pillow-heif (a
binding of libheif), which registers its decoder with Pillow when imported; importing it costs a
new container about 40 ms, so it is imported by the first source that starts like a HEIF file,
not by every container. Pillow's ``Image.open`` loads all of its ~45 plugins when asked for a
decoder it does not know, so a decoder that is not registered yet is not asked for.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from PIL import Image

from image_optimizer.errors import CorruptImage, ImageTooLarge, OptimizerError, UnsupportedImage
from image_optimizer.formats import DECODERS, HEIF, SUPPORTED_INPUTS, recognised_input


def opened(data: bytes, max_pixels: int) -> Image.Image:
    """The source as Pillow opens it (its header read, no pixel decoded), by the input formats'
    decoders only; `OptimizerError`s when it is none of them, damaged or too large."""
    try:
        image = Image.open(io.BytesIO(data), formats=decoders_for(data))
    except Image.DecompressionBombError:
        raise _too_many_pixels(max_pixels) from None
    except Exception:
        # Reading a header of hostile bytes fails in many ways (truncated reads, text chunks
        # that inflate past Pillow's limit, ...): each is a bad source, never a fault of ours.
        if recognised_input(data) is not None:
            raise CorruptImage("the source image is damaged and cannot be read") from None
        raise UnsupportedImage(
            f"the source is not an image in a supported format ({SUPPORTED_INPUTS})"
        ) from None
    width, height = image.size
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels)
    return image


@contextmanager
def decoding(max_pixels: int) -> Iterator[None]:
    """Errors of a decoder reading the source (seeking to a frame, loading its pixels) as what
    they are: the source's fault, never ours."""
    try:
        yield
    except OptimizerError:
        raise
    except Image.DecompressionBombError:
        raise _too_many_pixels(max_pixels) from None
    except Exception:
        # Decoders fed hostile bytes fail in many ways; every one of them is the source's fault.
        raise CorruptImage("the source image is damaged and cannot be decoded") from None


def _too_many_pixels(limit: int) -> ImageTooLarge:
    return ImageTooLarge(f"the source image has more than {limit} pixels")


def decoders_for(data: bytes) -> tuple[str, ...]:
    """The decoders ``Image.open`` may try on ``data``."""
    if HEIF.recognises(data):
        _register_heif()
    return tuple(decoder for decoder in DECODERS if decoder in Image.OPEN)


@cache
def _register_heif() -> None:
    from pillow_heif import register_heif_opener

    # A HEIF file's thumbnails, depth maps and auxiliary images are never served: not read.
    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
