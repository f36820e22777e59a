"""Hypothesis strategies for URL parameters, derived from the parameter table.

Every parameter in `PARAMETERS` is drawn, with values near its edges: each choice in several
cases, numbers at and beyond their range, in other spellings (0400, .50, 2.0) and malformed;
and values no parameter takes. A parameter added to the table is fuzzed with no change here.
"""

from __future__ import annotations

from random import Random

from hypothesis import strategies as st

from image_optimizer.parameters import NAMES, PARAMETERS, PRESET, Kind, Parameter
from image_optimizer.settings import DEFAULT_MAX_DIMENSION

# Presets for the tests that run with some: a geometry, a quality, a still.
PRESETS_SETTING = "card:w=400&h=300&fit=cover thumb:w=160&q=70 still:frames=1&dpr=2"
PRESET_NAMES = ("card", "thumb", "still")

# Watermarks for the tests that run with some (the deployment lists their names).
WATERMARKS_SETTING = (
    '{"logo": {"key": "brand/logo.png"}, "sample_2": {"key": "brand/s.png", "position": "center"}}'
)

# Values each text parameter takes (a new one without examples fails here, on purpose).
TEXT_EXAMPLES = {
    "bg": ("ff0000", "00ff0080", "abcdef", "000000"),
    "watermark": ("logo", "sample_2"),
}

JUNK = ["", " 4", "abc", "-1", "1e0", "0x1", "٣", "9" * 12, "nan", "true"]


def samples(parameter: Parameter) -> list[str]:
    """Values of ``parameter`` worth trying: good, bad and borderline ones."""
    if parameter.kind is Kind.CHOICE:
        return [
            spelling
            for choice in parameter.choices
            for spelling in (choice, choice.upper(), choice.title())
        ] + ["zoom"]
    if parameter.kind is Kind.NUMBER:
        low = parameter.low
        high = parameter.upper(DEFAULT_MAX_DIMENSION)
        middle = (low + high) / 2
        step = 10.0**-parameter.decimals
        numbers = [low, high, middle, low - step, high + step, high * 2, low + step]
        written = [f"{n:.{parameter.decimals}f}" for n in numbers if n >= 0]
        return [*written, f"0{written[0]}", f"{written[1]}.0", f"{written[2]}0", ".5", "0.50"]
    # A text parameter: values it takes (names this deployment knows), in two cases, and some
    # it does not.
    known = list(PRESET_NAMES) if parameter.name == PRESET else list(TEXT_EXAMPLES[parameter.name])
    spelled = [*known, *(name.upper() for name in known)]
    return [*spelled, "nosuch", "Bad Name", "x" * 40, "-x", "fff", "ff00ff0"]


ALL_SAMPLES = sorted({value for parameter in PARAMETERS for value in samples(parameter)})
names = st.sampled_from(NAMES)
values = st.sampled_from(ALL_SAMPLES + JUNK)


@st.composite
def pairs(draw: st.DrawFn, max_size: int = 5) -> list[tuple[str, str]]:
    """A query's (name, value) pairs: mostly each name's own samples, sometimes anything."""
    chosen = draw(st.lists(names, max_size=max_size))
    own = {parameter.name: samples(parameter) for parameter in PARAMETERS}
    return [(name, draw(st.sampled_from(own[name]) | values)) for name in chosen]


def query_of(drawn: list[tuple[str, str]]) -> str:
    return "&".join(f"{name}={value}" for name, value in drawn)


def valid_value(parameter: Parameter) -> st.SearchStrategy[str]:
    """Any value ``parameter`` accepts (with no allow-list), in any accepted spelling."""
    if parameter.kind is Kind.CHOICE:
        return st.sampled_from(parameter.choices).flatmap(
            lambda choice: st.sampled_from([choice, choice.upper()])
        )
    if parameter.kind is Kind.NUMBER:
        scale = 10**parameter.decimals
        high = parameter.upper(DEFAULT_MAX_DIMENSION)
        steps = st.integers(round(parameter.low * scale), round(high * scale))
        return steps.map(lambda step: _written(step, parameter.decimals))
    if parameter.name == PRESET:
        return st.sampled_from(PRESET_NAMES)
    return st.sampled_from(TEXT_EXAMPLES[parameter.name]).flatmap(
        lambda value: st.sampled_from([value, value.upper()])
    )


def _written(step: int, decimals: int) -> str:
    if not decimals:
        return str(step)
    whole, fraction = divmod(step, 10**decimals)
    return f"{whole}.{fraction:0{decimals}d}".rstrip("0").rstrip(".")


@st.composite
def valid_pairs(draw: st.DrawFn) -> dict[str, str]:
    """Each parameter present or not, with a value it accepts on its own (the rules between
    parameters may still refuse the whole)."""
    chosen = draw(st.lists(st.sampled_from(PARAMETERS), unique_by=lambda p: p.name))
    return {parameter.name: draw(valid_value(parameter)) for parameter in chosen}


def sample_queries(count: int, seed: int = 0) -> list[str]:
    """``count`` queries drawn as `pairs` draws them, from a fixed seed (quicker than asking
    hypothesis for hundreds at once, and the same on every run)."""
    chooser = Random(seed)
    own = {parameter.name: samples(parameter) for parameter in PARAMETERS}
    anything = ALL_SAMPLES + JUNK
    queries = []
    for _ in range(count):
        names_drawn = chooser.choices(NAMES, k=chooser.randint(0, 5))
        drawn = [
            (name, chooser.choice(own[name] if chooser.random() < 0.8 else anything))
            for name in names_drawn
        ]
        queries.append(query_of(drawn))
    return queries
