"""`TransformSpec`: what to do to one image, in a canonical form.

Two requests that must give the same bytes have equal specs and equal ``canonical()`` strings:
defaults are filled in and what cannot matter is dropped (a lone ``w`` makes ``fit`` irrelevant,
a lossless format has no quality), so the string is safe to put in a cache key. A field that a
URL parameter fills by itself is named in that parameter's entry of `PARAMETERS`, and
``canonical()`` writes it from there.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from image_optimizer.formats import FACTS, OutputFormat
from image_optimizer.parameters import PARAMETERS, Fit, Position

_LOSSLESS_QUALITY = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class TransformSpec:
    width: int | None = None  # in output pixels: a request's w times its dpr
    height: int | None = None
    fit: Fit = Fit.COVER
    output_format: OutputFormat | None = None  # None: chosen from the source image
    quality: int | None = None  # None: the output format's default
    negotiated: bool = False  # the format came from the Accept header (format=auto)
    position: Position = Position.CENTER
    focus_x: float | None = None  # fx, fy: the point a crop keeps nearest its centre
    focus_y: float | None = None
    still: bool = False  # frames=1: the first frame of an animation, as a still
    rotate: int = 0  # degrees clockwise, after the EXIF orientation
    flip: str = ""  # "h", "v" or "hv": mirrored after the rotation
    grayscale: bool = False
    blur: float | None = None  # sigma in output pixels
    sharpen: float | None = None  # sigma in output pixels
    background: str | None = None  # "rrggbb" or "rrggbbaa": padding and flattening
    watermark: str | None = None  # the name of one of the deployment's watermarks
    facts: bool = False  # format=json: the facts about the source, whatever else is asked

    def __post_init__(self) -> None:
        if self.facts:
            # The facts describe the source, which no other parameter changes: one entry.
            for name, default in _DEFAULTS.items():
                if name != "facts":
                    object.__setattr__(self, name, default)
            return
        if self.width is None or self.height is None:
            # With one side or none, every fit gives the same image, and nothing is cropped.
            object.__setattr__(self, "fit", Fit.COVER)
            object.__setattr__(self, "position", Position.CENTER)
            self._set_focus(None)
        if self.fit not in (Fit.COVER, Fit.CONTAIN) or (
            self.fit is Fit.CONTAIN and self.position.chooses_by_looking
        ):
            object.__setattr__(self, "position", Position.CENTER)  # nothing for it to decide
        if self.fit is not Fit.COVER or self.focus in (None, (0.5, 0.5)):
            self._set_focus(None)
        else:
            self._set_focus(self.focus)  # a missing coordinate is the middle
        if self.flip in ("v", "hv"):
            # A top-bottom mirror is a left-right one turned half a turn: one form for each of
            # the eight ways a picture can lie, so that equal images share a cache entry.
            object.__setattr__(self, "rotate", (self.rotate + 180) % 360)
            object.__setattr__(self, "flip", "h" if self.flip == "v" else "")
        fmt = self.output_format
        if fmt is not None:
            # A known format settles the quality: its default, or none at all when lossless.
            if not fmt.lossy:
                object.__setattr__(self, "quality", None)
            elif self.quality is None:
                object.__setattr__(self, "quality", fmt.default_quality)
            if not fmt.animates:
                object.__setattr__(self, "still", False)  # a still is all it can be

    @property
    def focus(self) -> tuple[float, float] | None:
        """The focal point (fx, fy), a missing coordinate being 0.5; None when there is none."""
        if self.focus_x is None and self.focus_y is None:
            return None
        return (
            0.5 if self.focus_x is None else self.focus_x,
            0.5 if self.focus_y is None else self.focus_y,
        )

    def _set_focus(self, focus: tuple[float, float] | None) -> None:
        object.__setattr__(self, "focus_x", None if focus is None else focus[0])
        object.__setattr__(self, "focus_y", None if focus is None else focus[1])

    def canonical(self) -> str:
        """A stable text form; ``negotiated`` is left out because it changes headers, not bytes.

        The first five are written always, as every cache key since the first has them; every
        other field only when it differs from its default, so keys made before a field existed
        keep their form.
        """
        fmt = self.output_format.name if self.output_format else "source"
        if self.facts:
            fmt = FACTS.name
        quality = _LOSSLESS_QUALITY if self.quality is None else str(self.quality)
        text = f"w={self.width or ''}&h={self.height or ''}&fit={self.fit}&format={fmt}&q={quality}"
        for parameter in _WRITTEN_WHEN_SET:
            value = getattr(self, parameter.spec_field)  # type: ignore[arg-type]
            if value != _DEFAULTS[parameter.spec_field]:
                text += f"&{parameter.name}={_text(value)}"
        return text


_ALWAYS_WRITTEN = ("width", "height", "fit", "output_format", "quality")
_DEFAULTS = {spec_field.name: spec_field.default for spec_field in fields(TransformSpec)}
_WRITTEN_WHEN_SET = tuple(
    parameter
    for parameter in PARAMETERS
    if parameter.spec_field is not None and parameter.spec_field not in _ALWAYS_WRITTEN
)


def _text(value: object) -> str:
    """A field's value as its parameter writes it: ``frames=1``, ``fx=0.25``, ``position=top``."""
    if value is True:
        return "1"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
