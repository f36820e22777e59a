"""`TransformSpec`: what to do to one image, in a canonical form.

Two requests that must give the same bytes have equal specs and equal ``canonical()`` strings:
defaults are filled in and aliases resolved (``format=jpg`` is ``format=jpeg``, a lone ``w`` makes
``fit`` irrelevant), so the string is safe to put in a cache key.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from image_optimizer.formats import OutputFormat


class Fit(StrEnum):
    """How a width and a height together apply (one side alone always keeps the aspect ratio)."""

    COVER = "cover"  # fill the box, crop the overflow, centred
    CONTAIN = "contain"  # fit inside the box, pad the rest
    FILL = "fill"  # stretch to the box, aspect ratio ignored
    INSIDE = "inside"  # fit inside the box, no padding (may be smaller on one side)
    OUTSIDE = "outside"  # cover the box, no crop (may be larger on one side)


@dataclass(frozen=True, slots=True)
class TransformSpec:
    width: int | None = None
    height: int | None = None
    fit: Fit = Fit.COVER
    output_format: OutputFormat | None = None  # None: chosen from the source image
    quality: int | None = None  # None: the output format's default
    negotiated: bool = False  # the format came from the Accept header (format=auto)

    def __post_init__(self) -> None:
        if self.width is None or self.height is None:
            # With one side or none, every fit gives the same image.
            object.__setattr__(self, "fit", Fit.COVER)
        fmt = self.output_format
        if fmt is not None:
            # A known format settles the quality: its default, or none at all when lossless.
            if not fmt.lossy:
                object.__setattr__(self, "quality", None)
            elif self.quality is None:
                object.__setattr__(self, "quality", fmt.default_quality)

    def canonical(self) -> str:
        """A stable text form; ``negotiated`` is left out because it changes headers, not bytes."""
        fmt = self.output_format.name if self.output_format else "source"
        quality = "default" if self.quality is None else str(self.quality)
        return f"w={self.width or ''}&h={self.height or ''}&fit={self.fit}&format={fmt}&q={quality}"
