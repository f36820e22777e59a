"""Request parsing: every parameter rule of the HTTP contract, and canonical specs."""

from __future__ import annotations

import itertools
from dataclasses import replace
from urllib.parse import quote

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from image_optimizer.errors import InvalidKey, InvalidParameter
from image_optimizer.formats import AVIF, JPEG, PNG, WEBP
from image_optimizer.parameters import NAMES, PARAMETERS, Fit, Kind, Parameter, Position
from image_optimizer.request import accepts, parse_key, parse_query
from image_optimizer.spec import TransformSpec
from parameter_strategies import valid_pairs, valid_value

MAX = 4096
ALLOWED = ", ".join(NAMES)  # every parameter of the table, in its order


def parse(query: str, accept: str | None = None) -> TransformSpec:
    return parse_query(query, accept, MAX)


def refusal(query: str) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as caught:
        parse(query)
    return caught.value


def test_a_full_query_becomes_a_spec() -> None:
    spec = parse("w=400&h=300&format=webp&q=80&fit=contain")
    assert spec == TransformSpec(
        width=400, height=300, fit=Fit.CONTAIN, output_format=WEBP, quality=80
    )


def test_no_parameters_mean_the_source_as_it_is() -> None:
    assert parse("") == TransformSpec()


@pytest.mark.parametrize(
    ("query", "message", "parameter"),
    [
        ("w=abc", "w must be an integer from 1 to 4096, got 'abc'", "w"),
        ("w=0", "w must be an integer from 1 to 4096, got '0'", "w"),
        ("h=4097", "h must be an integer from 1 to 4096, got '4097'", "h"),
        ("w=-5", "w must be an integer from 1 to 4096, got '-5'", "w"),
        ("w=1.5", "w must be an integer from 1 to 4096, got '1.5'", "w"),
        ("w=%20400", "w must be an integer from 1 to 4096, got ' 400'", "w"),
        ("w=%D9%A3", "w must be an integer from 1 to 4096, got '٣'", "w"),  # Arabic-Indic 3
        ("q=200", "q must be an integer from 0 to 100, got '200'", "q"),
        ("q=high", "q must be an integer from 0 to 100, got 'high'", "q"),
        (
            "format=tiff",
            "format must be one of jpeg, jpg, png, webp, avif, gif, auto, json, got 'tiff'",
            "format",
        ),
        (
            "fit=stretch",
            "fit must be one of cover, contain, fill, inside, outside, got 'stretch'",
            "fit",
        ),
        # '+' is a space in a query, in names and values alike (as at the edge)
        (
            "fit=cover+",
            "fit must be one of cover, contain, fill, inside, outside, got 'cover '",
            "fit",
        ),
        ("width=400", f"unknown parameter 'width'; allowed: {ALLOWED}", "width"),
        ("a+b=1", f"unknown parameter 'a b'; allowed: {ALLOWED}", "a b"),
        (
            "position=middle",
            "position must be one of center, top, bottom, left, right, top-left, top-right, "
            "bottom-left, bottom-right, entropy, attention, got 'middle'",
            "position",
        ),
        ("fx=1.5", "fx must be a number from 0 to 1 (at most 3 decimals), got '1.5'", "fx"),
        ("fy=0.1234", "fy must be a number from 0 to 1 (at most 3 decimals), got '0.1234'", "fy"),
        ("fx=-0.5", "fx must be a number from 0 to 1 (at most 3 decimals), got '-0.5'", "fx"),
        ("dpr=5", "dpr must be a number from 1 to 4 (at most 1 decimal), got '5'", "dpr"),
        ("dpr=0.5", "dpr must be a number from 1 to 4 (at most 1 decimal), got '0.5'", "dpr"),
        ("dpr=4.5", "dpr must be a number from 1 to 4 (at most 1 decimal), got '4.5'", "dpr"),
        ("dpr=1.25", "dpr must be a number from 1 to 4 (at most 1 decimal), got '1.25'", "dpr"),
        ("w=4096&dpr=1.1", "dpr 1.1 makes w 4506, more than 4096", "dpr"),
        ("w=10&h=2049&dpr=2", "dpr 2 makes h 4098, more than 4096", "dpr"),
        ("frames=2", "frames must be 1 (a still of the first frame), got '2'", "frames"),
        (
            "w=1&h=1&position=top&fx=0.2",
            "position and fx/fy both say what a crop keeps; give one or the other",
            "position",
        ),
        ("w=400&w=500", "w is given more than once", "w"),
        ("w=", "w is empty; give it a value or leave it out", "w"),
        ("q", "q is empty; give it a value or leave it out", "q"),
        ("w=%zz", "w has invalid percent-encoding: '%zz'", "w"),
        ("format=%ff", "format is not valid UTF-8 once percent-decoded", "format"),
        ("w%zz=1", "a parameter name has invalid percent-encoding: 'w%zz'", None),
        ("%ff=1", "a parameter name is not valid UTF-8 once percent-decoded", None),
    ],
)  # fmt: skip
def test_every_refusal_names_the_parameter_the_value_and_what_is_allowed(
    query: str, message: str, parameter: str | None
) -> None:
    error = refusal(query)
    assert (error.message, error.parameter) == (message, parameter)


def test_the_refused_parameter_is_reported_apart_from_the_message() -> None:
    assert refusal("h=abc").parameter == "h"
    assert refusal("width=1").parameter == "width"


def test_a_huge_query_string_is_refused() -> None:
    padding = "&" * (2048 - len("w=1"))
    assert parse("w=1" + padding).width == 1  # 2048 characters: the longest accepted
    assert refusal("w=1" + padding + "&").message == (
        "the query string is longer than 2048 characters"
    )


def test_a_huge_value_is_cut_short_in_the_message() -> None:
    forty = "x" * 40
    assert refusal(f"fit={forty}").message.endswith(f"got '{forty}'")
    assert refusal(f"fit={forty}y").message.endswith(f"got '{forty}...'")
    error = refusal("w=" + "9" * 1000)
    assert len(error.message) < 120


def test_empty_pairs_anywhere_are_harmless() -> None:
    assert parse("&w=1&&h=2&") == TransformSpec(width=1, height=2)


def test_a_lower_max_dimension_is_the_limit_named() -> None:
    with pytest.raises(InvalidParameter, match="from 1 to 1000, got '1001'"):
        parse_query("w=1001", None, 1000)


def test_allow_lists_narrow_w_h_q_and_dpr() -> None:
    allowed = {"w": frozenset({1280, 320, 640}), "q": frozenset({80}), "dpr": frozenset({2, 1.5})}
    assert parse_query("w=0640&q=80&h=17", None, MAX, allowed) == TransformSpec(
        width=640, height=17, quality=80
    )
    assert parse_query("w=640&dpr=1.5", None, MAX, allowed).width == 960  # w as given is listed
    for query, message, parameter in (
        ("w=500", "w must be one of 320, 640, 1280, got '500'", "w"),
        ("q=x", "q must be one of 80, got 'x'", "q"),
        ("dpr=3", "dpr must be one of 1.5, 2, got '3'", "dpr"),
        ("dpr=1.55", "dpr must be one of 1.5, 2, got '1.55'", "dpr"),
    ):
        with pytest.raises(InvalidParameter) as caught:
            parse_query(query, None, MAX, allowed)
        assert (caught.value.message, caught.value.parameter) == (message, parameter)
    heights = {"h": frozenset({200})}
    assert parse_query("h=200", None, MAX, heights).height == 200
    with pytest.raises(InvalidParameter) as caught:
        parse_query("h=500&w=500", None, MAX, heights)
    assert (caught.value.message, caught.value.parameter) == (
        "h must be one of 200, got '500'",
        "h",
    )


def test_invalid_percent_encoding_is_refused() -> None:
    assert "percent-encoding" in refusal("w=%zz").message
    assert "UTF-8" in refusal("format=%ff").message


@pytest.mark.parametrize("parameter", PARAMETERS, ids=lambda parameter: parameter.name)
def test_every_parameter_says_how_its_values_are_read_and_refused(parameter: Parameter) -> None:
    if parameter.kind is Kind.CHOICE:
        assert parameter.choices, "a choice lists its words"
        assert set(parameter.aliases) <= set(parameter.choices)
    else:
        assert parameter.pattern, "a number or a text has the form its whole value takes"
    if parameter.kind is Kind.TEXT:
        assert parameter.expected, "a refused text says what was expected"


def test_aliases_and_defaults_make_one_canonical_form() -> None:
    assert parse("format=jpg").canonical() == parse("format=jpeg").canonical()
    assert parse("format=jpeg").canonical() == parse("format=jpeg&q=80").canonical()
    assert parse("w=400&fit=contain").canonical() == parse("w=400").canonical()
    assert parse("format=png&q=10").canonical() == parse("format=png").canonical()
    assert parse("format=webp&q=50").canonical() != parse("format=webp").canonical()
    assert parse("q=0&format=jpeg").quality == 0


def parsed_or_none(params: dict[str, str]) -> TransformSpec | None:
    """The spec of a query of ``params``, without negotiated (it changes headers, not bytes);
    None when a rule between parameters refuses it."""
    try:
        spec = parse("&".join(f"{name}={value}" for name, value in params.items()))
    except InvalidParameter:
        return None
    return replace(spec, negotiated=False)


@given(params=valid_pairs(), data=st.data())
def test_parameter_order_never_changes_the_spec(
    params: dict[str, str], data: st.DataObject
) -> None:
    spec = parsed_or_none(params)
    assume(spec is not None)
    shuffled = dict(data.draw(st.permutations(list(params.items()))))
    assert parsed_or_none(shuffled) == spec


@settings(max_examples=300)
@given(first=valid_pairs(), data=st.data())
def test_two_different_specs_never_share_a_canonical_form(
    first: dict[str, str], data: st.DataObject
) -> None:
    """A field that canonical() forgot would make, say, blurred and unblurred requests share a
    cache entry: change one parameter at a time and the form must follow the spec."""
    parameter = data.draw(st.sampled_from(PARAMETERS))
    second = {**first, parameter.name: data.draw(valid_value(parameter))}
    if data.draw(st.booleans()):
        del second[parameter.name]
    specs = parsed_or_none(first), parsed_or_none(second)
    assume(None not in specs)
    assert (specs[0] == specs[1]) == (specs[0].canonical() == specs[1].canonical()), specs


@given(st.text(max_size=60))
def test_any_query_is_either_a_spec_or_a_named_refusal(query: str) -> None:
    for raw in (query, quote(query, safe="=&")):
        outcome: TransformSpec | InvalidParameter
        try:
            outcome = parse(raw)
        except InvalidParameter as error:
            outcome = error
        assert isinstance(outcome, TransformSpec) or outcome.message


@given(st.integers(min_value=-(10**12), max_value=10**12))
@example(MAX)
@example(MAX + 1)
@example(1)
@example(0)
def test_integers_are_accepted_exactly_in_range(value: int) -> None:
    if 1 <= value <= MAX:
        assert parse(f"w={value}").width == value
    else:
        assert refusal(f"w={value}").parameter == "w"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", AVIF),  # Chrome
        (  # Safari names WebP before AVIF: the order is not a preference
            "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,"
            "image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5",
            AVIF,
        ),
        ("image/png, IMAGE/AVIF ; Q=1", AVIF),  # spaces and case are not significant
        ("image/webp,*/*", WEBP),  # Firefox before AVIF
        ("image/webp;q=0.9,image/avif;q=0", WEBP),
        ("*/*", None),  # curl: the source decides
        ("", None),
        (None, None),
    ],
)
def test_format_auto_takes_the_best_format_the_client_accepts(
    accept: str | None, expected: object
) -> None:
    spec = parse("format=auto", accept)
    assert spec.output_format is expected
    assert spec.negotiated


def test_accept_matching_reads_q_values() -> None:
    assert accepts("image/avif;q=0.5", "image/avif")
    assert not accepts("image/avif;q=0", "image/avif")
    assert not accepts("image/avif;q=zero", "image/avif")
    assert accepts("image/avif; Q = 0.001", "image/avif")
    for malformed in ("inf", "0.5abc", "=1", "", "-1", "1e0"):  # never read as a number
        assert not accepts(f"image/avif;q={malformed}", "image/avif"), malformed
    assert not accepts("image/*", "image/avif")


def test_a_known_format_fills_in_its_default_quality() -> None:
    assert parse("format=jpeg").quality == JPEG.default_quality
    assert parse("format=png&q=50").quality is None
    assert parse("format=png").output_format is PNG


class TestKeys:
    def test_function_url_paths_are_percent_decoded(self) -> None:
        assert parse_key("photos/my%20cat%C3%A9.jpg", percent_encoded=True) == "photos/my caté.jpg"

    def test_http_api_paths_arrive_decoded(self) -> None:
        assert parse_key("photos/100%.jpg", percent_encoded=False) == "photos/100%.jpg"

    @pytest.mark.parametrize(
        "raw",
        [
            "",
            "a//b.jpg",
            "../secret.jpg",
            "a/../../b.jpg",
            "./a.jpg",
            "a/",
            "/a.jpg",
            "a%00b.jpg",
            "a%0Ab.jpg",
            "bad%zzescape.jpg",
            "bad%ff.jpg",
            "x" * 1025,
            "%C3%A9" * 600,  # 600 characters, 1200 bytes
        ],
    )
    def test_refused_keys(self, raw: str) -> None:
        with pytest.raises(InvalidKey) as caught:
            parse_key(raw, percent_encoded=True)
        assert "image key" in caught.value.message

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ("", "the image key is empty: use /images/<key>"),
            ("a%07b.jpg", "the image key contains control characters"),
            (
                "a/../b.jpg",
                "the image key 'a/../b.jpg' has an empty, '.' or '..' segment; "
                "keys are plain paths such as landscapes/main.jpg",
            ),
            ("x" * 1025, "the image key is longer than 1024 bytes"),
        ],
    )
    def test_each_refusal_says_what_is_wrong(self, raw: str, message: str) -> None:
        with pytest.raises(InvalidKey) as caught:
            parse_key(raw, percent_encoded=True)
        assert caught.value.message == message

    def test_longest_allowed_key(self) -> None:
        assert parse_key("k" * 1024, percent_encoded=True) == "k" * 1024


def test_combinations_of_two_fits_with_one_side_are_one_spec() -> None:
    specs = {parse(f"w=300&fit={fit.value}") for fit in Fit}
    assert len(specs) == 1
    pairs = list(itertools.combinations([fit.value for fit in Fit], 2))
    assert all(parse(f"w=3&h=4&fit={a}") != parse(f"w=3&h=4&fit={b}") for a, b in pairs)


@pytest.mark.parametrize(
    ("query", "width", "height"),
    [
        ("w=400&dpr=2", 800, None),
        ("w=400&h=300&dpr=1.5", 600, 450),
        ("w=3&dpr=1.5", 5, None),  # 4.5 rounds up, as people round
        ("h=100&dpr=4", None, 400),
        ("w=400&dpr=1", 400, None),
        ("dpr=3", None, None),  # nothing to multiply
    ],
)
def test_a_pixel_density_multiplies_the_sides(
    query: str, width: int | None, height: int | None
) -> None:
    spec = parse(query)
    assert (spec.width, spec.height) == (width, height)


def test_a_density_and_its_product_are_one_entry() -> None:
    assert parse("w=400&dpr=2") == parse("w=800")
    assert parse("w=400&dpr=2").canonical() == parse("w=800").canonical()


@pytest.mark.parametrize(
    ("query", "position", "focus"),
    [
        ("w=4&h=3&position=top-left", Position.TOP_LEFT, None),
        ("w=4&h=3&position=attention", Position.ATTENTION, None),
        ("w=4&h=3&fx=0.25", Position.CENTER, (0.25, 0.5)),
        ("w=4&h=3&fy=.75", Position.CENTER, (0.5, 0.75)),
        ("w=4&h=3&fx=1&fy=0", Position.CENTER, (1.0, 0.0)),
        ("w=4&h=3&fx=0.5&fy=.500", Position.CENTER, None),  # the centre: a centred crop
        ("w=4&position=top", Position.CENTER, None),  # one side: nothing is cropped
        ("w=4&h=3&fit=fill&position=top", Position.CENTER, None),
        ("w=4&h=3&fit=contain&position=top", Position.TOP, None),  # where the picture sits
        ("w=4&h=3&fit=contain&position=entropy", Position.CENTER, None),  # nothing to crop
        ("w=4&h=3&fit=contain&fx=0.1", Position.CENTER, None),
    ],
)
def test_where_to_crop(query: str, position: Position, focus: tuple[float, float] | None) -> None:
    spec = parse(query)
    assert (spec.position, spec.focus) == (position, focus)


def test_what_changes_nothing_leaves_the_canonical_form_as_it_was() -> None:
    assert parse("w=400&position=center&frames=1&format=jpeg").canonical() == (
        "w=400&h=&fit=cover&format=jpeg&q=80"  # as before these parameters existed
    )
    assert parse("w=4&h=3&fx=0.250").canonical() == (
        "w=4&h=3&fit=cover&format=source&q=default&fx=0.25&fy=0.5"
    )
    assert parse("w=4&h=3&position=bottom-right&format=webp&frames=1").canonical() == (
        "w=4&h=3&fit=cover&format=webp&q=80&position=bottom-right&frames=1"
    )
