"""The tables of formats: what a source may be (`INPUT_FORMATS`) and what an answer may be
(`OUTPUT_FORMATS`: names, aliases, MIME types and encoder options).

Encoder choices (measured on a 1200x980 photo, one core; see docs/performance.md):
- JPEG: Huffman optimisation costs ~3 ms and saves ~1%; progressive costs 5x the encode time.
- WebP: method 4 is the knee; 6 doubles the time for 6% fewer bytes, 2 is 5% bigger.
- AVIF: speed 8 encodes a 1200x800 photo in 243 ms against 774 ms at speed 6, for 7% more
  bytes. Speed 9 (76 ms) costs photos 5% more bytes but a textured RGBA PNG 40-59% more
  and some SSIM, so it is not the default.
- PNG: zlib level 6 is the usual size/time balance for lossless output.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any, NamedTuple


class OutputFormat(NamedTuple):
    name: str
    pillow_format: str
    mime_type: str
    modes: tuple[str, ...]  # the Pillow modes it encodes as they are, alpha first
    default_quality: int | None  # None: lossless, `q` does not apply
    encoder_options: MappingProxyType[str, Any] = MappingProxyType({})
    animates: bool = False  # it can carry every frame of an animation
    # The most pixels (all frames together) it is asked to encode, refused before decoding:
    # an encoder whose time grows past what one invocation can spend on a request.
    max_pixels: float = math.inf
    # It takes YCbCr pixels as they are and keeps their colour planes at half the width and
    # height (4:2:0), so the pipeline may resize those planes to that size and no larger.
    halves_chroma: bool = False

    @property
    def has_alpha(self) -> bool:
        return "RGBA" in self.modes

    @property
    def lossy(self) -> bool:
        return self.default_quality is not None

    def save_options(self, quality: int | None) -> dict[str, Any]:
        options = dict(self.encoder_options)
        if self.lossy:
            options["quality"] = self.default_quality if quality is None else quality
        return options


_RGBA = ("RGBA", "RGB")
JPEG = OutputFormat(
    "jpeg",
    "JPEG",
    "image/jpeg",
    ("RGB", "L", "YCbCr"),
    80,
    MappingProxyType({"optimize": True}),
    halves_chroma=True,
)
PNG = OutputFormat(
    "png",
    "PNG",
    "image/png",
    ("RGBA", "LA", "RGB", "L"),
    None,
    MappingProxyType({"compress_level": 6}),
)
WEBP = OutputFormat(
    "webp",
    "WEBP",
    "image/webp",
    _RGBA,
    80,
    MappingProxyType({"method": 4}),
    animates=True,
)
# AVIF costs about 0.25 s a megapixel at speed 8 on one core (a 49 MP source to 4096 px took
# 9 s of CPU): 8 MP, a 3264x2448 photo, is the most asked of it.
AVIF = OutputFormat(
    "avif",
    "AVIF",
    "image/avif",
    _RGBA,
    50,
    MappingProxyType({"speed": 8}),
    animates=True,
    max_pixels=8_000_000,
)
GIF = OutputFormat("gif", "GIF", "image/gif", ("RGBA", "RGB", "L"), None, animates=True)

OUTPUT_FORMATS: MappingProxyType[str, OutputFormat] = MappingProxyType(
    {"jpeg": JPEG, "jpg": JPEG, "png": PNG, "webp": WEBP, "avif": AVIF, "gif": GIF}
)
"""Every accepted value of the ``format`` parameter (aliases included) -> its format."""

FACTS = OutputFormat("json", "", "application/json", (), None)
"""Not an image: ``format=json``'s answer, the facts about one (see `image_optimizer.facts`)."""


class InputFormat(NamedTuple):
    """A format sources may be in: how to recognise it, and how Pillow reads it."""

    name: str  # as messages name it
    decoder: str  # the one Pillow decoder allowed to open it
    reported_as: tuple[str, ...]  # what Pillow calls the opened image
    signatures: tuple[tuple[int, bytes], ...]  # (offset, bytes) that only this format starts with
    # The answer when the request names no format; None for a format browsers cannot show,
    # which becomes JPEG (PNG when the image has alpha).
    output: OutputFormat | None

    def recognises(self, data: bytes) -> bool:
        return any(data[at : at + len(magic)] == magic for at, magic in self.signatures)


# iPhone photos and other HEVC-coded HEIF files (by their ftyp brands); browsers cannot show them.
HEIF = InputFormat(
    "HEIC/HEIF",
    "HEIF",
    ("HEIF",),
    tuple(
        (4, b"ftyp" + brand)
        for brand in (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
    ),
    None,
)

INPUT_FORMATS: tuple[InputFormat, ...] = (
    # The JPEG decoder reports multi-picture phone photos as "MPO"; they become JPEG.
    InputFormat("JPEG", "JPEG", ("JPEG", "MPO"), ((0, b"\xff\xd8\xff"),), JPEG),
    InputFormat("PNG", "PNG", ("PNG",), ((0, b"\x89PNG\r\n\x1a\n"),), PNG),
    InputFormat("WebP", "WEBP", ("WEBP",), ((0, b"RIFF"),), WEBP),
    InputFormat("GIF", "GIF", ("GIF",), ((0, b"GIF87a"), (0, b"GIF89a")), GIF),
    InputFormat("AVIF", "AVIF", ("AVIF",), ((4, b"ftypavif"), (4, b"ftypavis")), AVIF),
    HEIF,
)

DECODERS: tuple[str, ...] = tuple(fmt.decoder for fmt in INPUT_FORMATS)
"""The only Pillow decoders a source may use: the input formats', and not one parser more."""

SUPPORTED_INPUTS = ", ".join(fmt.name for fmt in INPUT_FORMATS)

_BY_REPORTED = {name: fmt for fmt in INPUT_FORMATS for name in fmt.reported_as}


def recognised_input(data: bytes) -> InputFormat | None:
    """The input format ``data`` starts like, whether or not the rest of it is sound."""
    return next((fmt for fmt in INPUT_FORMATS if fmt.recognises(data)), None)


def default_output_format(source_format: str | None, has_alpha: bool) -> OutputFormat:
    """The output when the request names no format: a web format stays itself; anything else
    becomes JPEG, or PNG when it has alpha."""
    source = _BY_REPORTED.get(source_format or "")
    if source is not None and source.output is not None:
        return source.output
    return PNG if has_alpha else JPEG
