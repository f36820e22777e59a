"""The URL parameters of an image request, defined once.

`PARAMETERS` is the table. Each entry says what its values look like (a pattern and a range, a
list of choices, or a pattern alone), how a value is written canonically, which allow-list may
narrow it, which `TransformSpec` field it fills and how the README describes it. The table's order
is the order values are checked in, so that a request with several bad values is told about the
same one by the CloudFront Function and by the function, and the order of the canonical query
that both forward and that signatures are made over.

Derived from it: the function's parser (`request.py`), signing's message (`signing.py`),
`TransformSpec.canonical()`, the settings' allow-lists, the CloudFront Function's data (written
into ``functions/edge/viewer-request.js`` by ``functions/edge/generate.py``), the playground's
controls, the README's table and the tests' strategies. What relates two parameters (a position
and a focal point, ``dpr`` times a side, ``fit`` with one side, ``format=auto``) is written by hand
in `request.py` and in the CloudFront Function, and a test holds the two to the same answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from image_optimizer.errors import InvalidParameter
from image_optimizer.formats import OUTPUT_FORMATS

SHOWN_VALUE_CHARS = 40
AUTO_FORMAT = "auto"
FACTS_FORMAT = "json"  # the facts about the image and a placeholder, instead of the image


class Kind(StrEnum):
    NUMBER = "number"  # a decimal in a range: written as its shortest form (0400 -> 400)
    CHOICE = "choice"  # one word of a list, any case: written in lower case, aliases resolved
    TEXT = "text"  # a pattern: written as sent, or lower-cased when case does not matter


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


class AllowList(NamedTuple):
    """A deployment's list of the values a parameter may take.

    For a number, a comma-separated list that narrows its range (``ALLOWED_WIDTHS=320,640``);
    unset, the whole range. For a text, the names of a JSON object (``WATERMARKS``); unset,
    no name at all.
    """

    variable: str  # the environment variable
    template_parameter: str  # template.yaml's parameter, which sets it and the edge's copy


Allowed = frozenset[float] | frozenset[str]
"""The values an allow-list lets through: numbers, or a text parameter's names."""


class Parameter(NamedTuple):
    name: str
    kind: Kind
    meaning: str  # the README's "meaning" column
    values: str  # the README's "valid values" column
    pattern: str = ""  # NUMBER and TEXT: the whole value's form (a regex both Python and JS read)
    low: float = 0  # NUMBER: the range, inclusive
    high: float | None = None  # NUMBER: None is the deployment's MAX_DIMENSION
    decimals: int = 0  # NUMBER: at most this many after the point (how refusals describe it)
    choices: tuple[str, ...] = ()  # CHOICE: every accepted word, aliases included, as listed
    aliases: Mapping[str, str] = MappingProxyType({})
    neutral: str | None = None  # the canonical value that means the same as leaving it out
    allow_list: AllowList | None = None  # the deployment's list of the values it may take
    case_sensitive: bool = False  # TEXT: written as sent rather than in lower case
    expected: str = ""  # how a refusal says what is allowed, where the kind's words do not fit
    spec_field: str | None = None  # the `TransformSpec` field it fills by itself, if any
    spec_value: Callable[[str], object] = str  # canonical text -> that field's value

    def upper(self, max_dimension: int) -> float:
        """The largest value a NUMBER takes: its own, or the deployment's MAX_DIMENSION."""
        return max_dimension if self.high is None else self.high

    def describe(self, max_dimension: int) -> str:
        """What is allowed, as refusals say it: ``an integer from 1 to 4096``."""
        if self.expected:
            return self.expected
        if self.kind is Kind.CHOICE:
            return f"one of {', '.join(self.choices)}"
        high = self.upper(max_dimension)
        if not self.decimals:
            return f"an integer from {self.low:g} to {high:g}"
        plural = "s" if self.decimals > 1 else ""
        return f"a number from {self.low:g} to {high:g} (at most {self.decimals} decimal{plural})"

    def canonical(self, raw: str, max_dimension: int, allowed: Allowed | None = None) -> str:
        """``raw`` (decoded, as sent) in canonical form, or `InvalidParameter` naming it."""
        if self.kind is Kind.NUMBER:
            return self._number(raw, max_dimension, allowed)  # type: ignore[arg-type]
        if self.kind is Kind.CHOICE:
            lowered = raw.lower()
            if lowered in self.choices:
                return self.aliases.get(lowered, lowered)
        else:
            written = raw if self.case_sensitive else raw.lower()
            if _matches(self.pattern, written):
                if self.allow_list is not None and written not in (allowed or ()):
                    raise self._not_listed(raw, allowed or frozenset())
                return written
        raise self.refusal(raw, max_dimension)

    def _not_listed(self, raw: str, names: Allowed) -> InvalidParameter:
        """A well-formed name the deployment does not list (as the edge words it)."""
        listed = ", ".join(sorted(map(str, names)))
        expected = f"one of {listed}" if listed else f"{self.expected} (this deployment has none)"
        return InvalidParameter(
            f"{self.name} must be {expected}, got {shown(raw)}", parameter=self.name
        )

    def refusal(self, raw: str, max_dimension: int) -> InvalidParameter:
        return InvalidParameter(
            f"{self.name} must be {self.describe(max_dimension)}, got {shown(raw)}",
            parameter=self.name,
        )

    def _number(self, raw: str, max_dimension: int, allowed: frozenset[float] | None) -> str:
        well_formed = _matches(self.pattern, raw)
        if allowed:
            if not well_formed or float(raw) not in allowed:
                listed = ", ".join(f"{value:g}" for value in sorted(allowed))  # as the edge writes
                raise InvalidParameter(
                    f"{self.name} must be one of {listed}, got {shown(raw)}", parameter=self.name
                )
        else:
            high = self.upper(max_dimension)
            if not well_formed or not self.low <= float(raw) <= high:
                raise self.refusal(raw, max_dimension)
        return shortest_number(raw)


def shortest_number(number: str) -> str:
    """A well-formed decimal as JavaScript's ``String(Number(x))`` writes it: ``007`` is ``7``,
    ``.50`` is ``0.5``, ``2.0`` is ``2``."""
    return format(Decimal(number).normalize(), "f")


def shown(value: str) -> str:
    """A value quoted for a message, cut short so that a huge value cannot bloat the answer."""
    if len(value) > SHOWN_VALUE_CHARS:
        return repr(value[:SHOWN_VALUE_CHARS] + "...")
    return repr(value)


_COMPILED: dict[str, re.Pattern[str]] = {}


def _matches(pattern: str, value: str) -> bool:
    compiled = _COMPILED.get(pattern)
    if compiled is None:
        compiled = _COMPILED[pattern] = re.compile(pattern)
    return compiled.fullmatch(value) is not None


def _present(_: str) -> bool:
    return True


_INTEGER = "[0-9]{1,9}"
WATERMARK_NAME = "[a-z0-9][a-z0-9_-]{0,31}"
_FRACTION = "[01]|[01]?\\.[0-9]{1,3}"


PRESET = "preset"

PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        name=PRESET,
        kind=Kind.TEXT,
        meaning=(
            "a set of the parameters below that the deployment names (`PRESETS`); those the URL "
            "gives as well take their place"
        ),
        values="a name from `PRESETS`: a-z, 0-9 and `-`, at most 32",
        pattern="[a-z0-9][a-z0-9-]{0,31}",
        expected="the name of a preset: a-z, 0-9 and -, at most 32 characters",
    ),
    Parameter(
        name="w",
        kind=Kind.NUMBER,
        meaning="width in pixels",
        values="integer 1..`MAX_DIMENSION` (4096)",
        pattern=_INTEGER,
        low=1,
        allow_list=AllowList("ALLOWED_WIDTHS", "AllowedWidths"),
        spec_field="width",
        spec_value=int,
    ),
    Parameter(
        name="h",
        kind=Kind.NUMBER,
        meaning="height in pixels",
        values="integer 1..`MAX_DIMENSION` (4096)",
        pattern=_INTEGER,
        low=1,
        allow_list=AllowList("ALLOWED_HEIGHTS", "AllowedHeights"),
        spec_field="height",
        spec_value=int,
    ),
    Parameter(
        name="q",
        kind=Kind.NUMBER,
        meaning="quality of lossy formats",
        values="integer 0..100; defaults: JPEG 80, WebP 80, AVIF 50; ignored for PNG and GIF",
        pattern=_INTEGER,
        low=0,
        high=100,
        allow_list=AllowList("ALLOWED_QUALITIES", "AllowedQualities"),
        spec_field="quality",
        spec_value=int,
    ),
    Parameter(
        name="format",
        kind=Kind.CHOICE,
        meaning=(
            "output format; `json`: the image's size, format and colour and a placeholder, "
            "instead of the image"
        ),
        values="`jpeg` (alias `jpg`), `png`, `webp`, `avif`, `gif`, `auto`, `json`",
        choices=(*OUTPUT_FORMATS, AUTO_FORMAT, FACTS_FORMAT),
        aliases=MappingProxyType(
            {alias: fmt.name for alias, fmt in OUTPUT_FORMATS.items() if alias != fmt.name}
        ),
    ),
    Parameter(
        name="fit",
        kind=Kind.CHOICE,
        meaning="how `w` and `h` together apply",
        values="`cover` (default), `contain`, `fill`, `inside`, `outside`",
        choices=tuple(fit.value for fit in Fit),
        spec_field="fit",
        spec_value=Fit,
    ),
    Parameter(
        name="position",
        kind=Kind.CHOICE,
        meaning="what a `cover` crop keeps, or where `contain` places the picture",
        values=(
            "`center` (default), `top`, `bottom`, `left`, `right`, `top-left`, `top-right`, "
            "`bottom-left`, `bottom-right`; for `cover` also `entropy` (the busiest region) and "
            "`attention` (skin tones, saturation, edges)"
        ),
        choices=tuple(position.value for position in Position),
        spec_field="position",
        spec_value=Position,
    ),
    Parameter(
        name="fx",
        kind=Kind.NUMBER,
        meaning=(
            "the focal point's x: a `cover` crop keeps it as near its centre as it can "
            "(instead of `position`)"
        ),
        values="0..1, at most 3 decimals; 0.5 when only `fy` is given",
        pattern=_FRACTION,
        low=0,
        high=1,
        decimals=3,
        spec_field="focus_x",
        spec_value=float,
    ),
    Parameter(
        name="fy",
        kind=Kind.NUMBER,
        meaning="the focal point's y",
        values="0..1, at most 3 decimals; 0.5 when only `fx` is given",
        pattern=_FRACTION,
        low=0,
        high=1,
        decimals=3,
        spec_field="focus_y",
        spec_value=float,
    ),
    Parameter(
        name="dpr",
        kind=Kind.NUMBER,
        meaning=(
            "pixel density: multiplies `w` and `h` (rounded half up), capped by `MAX_DIMENSION`"
        ),
        values="1..4, at most 1 decimal",
        pattern="[1-4](\\.[0-9])?",
        low=1,
        high=4,
        decimals=1,
        neutral="1",
        allow_list=AllowList("ALLOWED_DENSITIES", "AllowedDensities"),
    ),
    Parameter(
        name="frames",
        kind=Kind.CHOICE,
        meaning="`1`: a still of an animation's first frame",
        values="`1`",
        choices=("1",),
        expected="1 (a still of the first frame)",
        spec_field="still",
        spec_value=_present,
    ),
    Parameter(
        name="rotate",
        kind=Kind.CHOICE,
        meaning=(
            "turn clockwise, after the EXIF orientation; `w`, `h`, `fit` and `position` describe "
            "the turned picture"
        ),
        values="`0`, `90`, `180`, `270`",
        choices=("0", "90", "180", "270"),
        neutral="0",
        spec_field="rotate",
        spec_value=int,
    ),
    Parameter(
        name="flip",
        kind=Kind.CHOICE,
        meaning="mirror, after `rotate`",
        values="`h` (left-right), `v` (top-bottom), `hv` (both)",
        choices=("h", "v", "hv"),
        spec_field="flip",
    ),
    Parameter(
        name="grayscale",
        kind=Kind.CHOICE,
        meaning="`1`: remove colour",
        values="`1`",
        choices=("1",),
        expected="1 (no colour)",
        spec_field="grayscale",
        spec_value=_present,
    ),
    Parameter(
        name="blur",
        kind=Kind.NUMBER,
        meaning="Gaussian blur of this sigma, in output pixels",
        values="0.3..100, at most 1 decimal",
        pattern="[0-9]{1,3}(\\.[0-9])?",
        low=0.3,
        high=100,
        decimals=1,
        spec_field="blur",
        spec_value=float,
    ),
    Parameter(
        name="sharpen",
        kind=Kind.NUMBER,
        meaning="unsharp mask of this sigma, in output pixels (after `blur`)",
        values="0.5..10, at most 1 decimal",
        pattern="[0-9]{1,2}(\\.[0-9])?",
        low=0.5,
        high=10,
        decimals=1,
        spec_field="sharpen",
        spec_value=float,
    ),
    Parameter(
        name="bg",
        kind=Kind.TEXT,
        meaning="colour of `contain`'s padding, and of what alpha is flattened onto (JPEG)",
        values="`RRGGBB` or `RRGGBBAA`, hex, any case; default white (transparent padding "
        "where the format has alpha)",
        pattern="[0-9a-f]{6}([0-9a-f]{2})?",
        expected="a colour as RRGGBB or RRGGBBAA in hex",
        spec_field="background",
    ),
    Parameter(
        name="watermark",
        kind=Kind.TEXT,
        meaning=(
            "lay the deployment's watermark of this name (`WATERMARKS`) over the image, after "
            "every other edit"
        ),
        values="a name from `WATERMARKS`: a-z, 0-9, `_` and `-`, at most 32, any case",
        pattern=WATERMARK_NAME,
        allow_list=AllowList("WATERMARKS", "Watermarks"),
        expected="the name of a watermark: a-z, 0-9, _ and -, at most 32 characters",
        spec_field="watermark",
    ),
)

BY_NAME: Mapping[str, Parameter] = MappingProxyType({p.name: p for p in PARAMETERS})
NAMES: tuple[str, ...] = tuple(BY_NAME)
