"""The one table of output formats: names, aliases, MIME types and encoder options.

Encoder choices (measured on a 1200x980 photo, one core; see docs/performance.md):
- JPEG: Huffman optimisation costs ~3 ms and saves ~1%; progressive costs 5x the encode time.
- WebP: method 4 is the knee; 6 doubles the time for 6% fewer bytes, 2 is 5% bigger.
- AVIF: speed 8 encodes a 1200x800 photo in 243 ms against 774 ms at speed 6, for 7% more
  bytes. Speed 9 (76 ms) costs photos 5% more bytes but a textured RGBA PNG 40-59% more
  and some SSIM, so it is not the default.
- PNG: zlib level 6 is the usual size/time balance for lossless output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class OutputFormat:
    name: str
    pillow_format: str
    mime_type: str
    modes: tuple[str, ...]  # the Pillow modes it encodes as they are, alpha first
    default_quality: int | None  # None: lossless, `q` does not apply
    encoder_options: MappingProxyType[str, Any] = field(
        default_factory=lambda: MappingProxyType({})
    )
    animates: bool = False  # it can carry every frame of an animation

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


_RGB = ("RGB", "L")
_RGBA = ("RGBA", "RGB")
JPEG = OutputFormat("jpeg", "JPEG", "image/jpeg", _RGB, 80, MappingProxyType({"optimize": True}))
PNG = OutputFormat(
    "png",
    "PNG",
    "image/png",
    ("RGBA", "LA", "RGB", "L"),
    None,
    MappingProxyType({"compress_level": 6}),
)
WEBP = OutputFormat(
    "webp", "WEBP", "image/webp", _RGBA, 80, MappingProxyType({"method": 4}), animates=True
)
AVIF = OutputFormat(
    "avif", "AVIF", "image/avif", _RGBA, 50, MappingProxyType({"speed": 8}), animates=True
)
GIF = OutputFormat("gif", "GIF", "image/gif", ("RGBA", "RGB", "L"), None, animates=True)

OUTPUT_FORMATS: MappingProxyType[str, OutputFormat] = MappingProxyType(
    {"jpeg": JPEG, "jpg": JPEG, "png": PNG, "webp": WEBP, "avif": AVIF, "gif": GIF}
)
"""Every accepted value of the ``format`` parameter (aliases included) -> its format."""

_BY_PILLOW_FORMAT = {fmt.pillow_format: fmt for fmt in OUTPUT_FORMATS.values()}

DECODERS: tuple[str, ...] = tuple(_BY_PILLOW_FORMAT)
"""The only Pillow decoders a source may use: web formats, and not one parser more."""


def default_output_format(source_format: str | None, has_alpha: bool) -> OutputFormat:
    """The output when the request names no format: keep a web format, else JPEG (PNG for alpha).

    "Else" is real: the JPEG decoder reports multi-picture phone photos as "MPO".
    """
    if source_format in _BY_PILLOW_FORMAT:
        return _BY_PILLOW_FORMAT[source_format]
    return PNG if has_alpha else JPEG
