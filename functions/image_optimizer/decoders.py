"""The Pillow decoders a source may be opened with, and HEIF's registered only when it is needed.

Every input format's decoder is in `formats.DECODERS`. HEIC and HEIF are read by pillow-heif (a
binding of libheif), which registers its decoder with Pillow when imported; importing it costs a
new container about 40 ms, so it is imported by the first source that starts like a HEIF file,
not by every container. Pillow's ``Image.open`` loads all of its ~45 plugins when asked for a
decoder it does not know, so a decoder that is not registered yet is not asked for.
"""

from __future__ import annotations

from functools import cache

from PIL import Image

from image_optimizer.formats import DECODERS, HEIF


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
