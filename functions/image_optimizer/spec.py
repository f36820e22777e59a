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

    COVER = "cover"  # fill the box, crop the overflow (where `Position` says)
    CONTAIN = "contain"  # fit inside the box, pad the rest (placed where `Position` says)
    FILL = "fill"  # stretch to the box, aspect ratio ignored
    INSIDE = "inside"  # fit inside the box, no padding (may be smaller on one side)
    OUTSIDE = "outside"  # cover the box, no crop (may be larger on one side)


class Position(StrEnum):
    """What a crop keeps (``fit=cover``), or where ``fit=contain`` places the picture."""

    CENTER = "center"
    TOP = "top"
    BOTTOM = "bottom"
    LEFT = "left"
    RIGHT = "right"
    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM_RIGHT = "bottom-right"
    ENTROPY = "entropy"  # cover only: the busiest region
    ATTENTION = "attention"  # cover only: what draws the eye (skin, saturation, edges)

    @property
    def chooses_by_looking(self) -> bool:
        return self in (Position.ENTROPY, Position.ATTENTION)

    @property
    def anchor(self) -> tuple[float, float]:
        """Where the kept region sits, as fractions of the room left: (0, 0) is the top left."""
        name = self.value
        x = 0.0 if "left" in name else 1.0 if "right" in name else 0.5
        y = 0.0 if "top" in name else 1.0 if "bottom" in name else 0.5
        return x, y


@dataclass(frozen=True, slots=True)
class TransformSpec:
    width: int | None = None  # in output pixels: a request's w times its dpr
    height: int | None = None
    fit: Fit = Fit.COVER
    output_format: OutputFormat | None = None  # None: chosen from the source image
    quality: int | None = None  # None: the output format's default
    negotiated: bool = False  # the format came from the Accept header (format=auto)
    position: Position = Position.CENTER
    focus: tuple[float, float] | None = None  # fx, fy: the point a crop keeps nearest its centre
    still: bool = False  # frames=1: the first frame of an animation, as a still

    def __post_init__(self) -> None:
        if self.width is None or self.height is None:
            # With one side or none, every fit gives the same image, and nothing is cropped.
            object.__setattr__(self, "fit", Fit.COVER)
            object.__setattr__(self, "position", Position.CENTER)
            object.__setattr__(self, "focus", None)
        if self.fit not in (Fit.COVER, Fit.CONTAIN) or (
            self.fit is Fit.CONTAIN and self.position.chooses_by_looking
        ):
            object.__setattr__(self, "position", Position.CENTER)  # nothing for it to decide
        if self.fit is not Fit.COVER or self.focus == (0.5, 0.5):
            object.__setattr__(self, "focus", None)
        fmt = self.output_format
        if fmt is not None:
            # A known format settles the quality: its default, or none at all when lossless.
            if not fmt.lossy:
                object.__setattr__(self, "quality", None)
            elif self.quality is None:
                object.__setattr__(self, "quality", fmt.default_quality)
            if not fmt.animates:
                object.__setattr__(self, "still", False)  # a still is all it can be

    def canonical(self) -> str:
        """A stable text form; ``negotiated`` is left out because it changes headers, not bytes.
        A field at its default adds nothing, so specs older than the field keep their form."""
        fmt = self.output_format.name if self.output_format else "source"
        quality = "default" if self.quality is None else str(self.quality)
        text = f"w={self.width or ''}&h={self.height or ''}&fit={self.fit}&format={fmt}&q={quality}"
        if self.position is not Position.CENTER:
            text += f"&position={self.position}"
        if self.focus is not None:
            text += f"&fx={self.focus[0]:g}&fy={self.focus[1]:g}"
        if self.still:
            text += "&frames=1"
        return text
