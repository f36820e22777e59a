"""Geometry: output sizes and crops for every fit, and the no-enlargement rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from image_optimizer.geometry import Geometry, plan
from image_optimizer.parameters import Fit, Position
from image_optimizer.spec import TransformSpec

SOURCE = (1000, 500)  # 2:1 landscape
FULL = (0.0, 0.0, 1000.0, 500.0)


def geometry(width: int | None, height: int | None, fit: Fit = Fit.COVER) -> Geometry:
    return plan(SOURCE, TransformSpec(width=width, height=height, fit=fit))


def test_no_size_keeps_the_source() -> None:
    assert geometry(None, None) == Geometry(FULL, SOURCE, SOURCE)


def test_one_side_keeps_the_aspect_ratio() -> None:
    assert geometry(400, None) == Geometry(FULL, (400, 200), (400, 200))
    assert geometry(None, 100) == Geometry(FULL, (200, 100), (200, 100))


def test_one_side_is_never_enlarged() -> None:
    assert geometry(3000, None).size == SOURCE
    assert geometry(None, 501).size == SOURCE


@pytest.mark.parametrize(
    ("fit", "crop", "size", "canvas"),
    [
        (Fit.COVER, (250, 0, 750, 500), (200, 200), (200, 200)),
        (Fit.CONTAIN, FULL, (200, 100), (200, 200)),
        (Fit.FILL, FULL, (200, 200), (200, 200)),
        (Fit.INSIDE, FULL, (200, 100), (200, 100)),
        (Fit.OUTSIDE, FULL, (400, 200), (400, 200)),
    ],
)
def test_a_square_box_on_a_wide_source(
    fit: Fit, crop: tuple[float, ...], size: tuple[int, int], canvas: tuple[int, int]
) -> None:
    assert geometry(200, 200, fit) == Geometry(crop, size, canvas)  # type: ignore[arg-type]


def test_cover_crops_the_centre_of_a_tall_box() -> None:
    result = geometry(100, 400, Fit.COVER)
    assert result.size == (100, 400)
    assert result.crop == (437, 0, 437 + 125, 500)


def test_a_box_larger_than_the_source_shrinks_as_a_whole() -> None:
    # Filling 800x800 from 1000x500 would enlarge; a 500x500 crop keeps the square asked for.
    assert geometry(800, 800, Fit.COVER) == Geometry((250, 0, 750, 500), (500, 500), (500, 500))
    assert geometry(2000, 2000, Fit.FILL).size == (500, 500)
    assert geometry(2000, 2000, Fit.INSIDE).size == SOURCE
    assert geometry(2000, 2000, Fit.OUTSIDE).size == SOURCE
    contain = geometry(4000, 4000, Fit.CONTAIN)
    assert contain.size == SOURCE
    assert contain.canvas == (1000, 1000)
    assert contain.offset == (0, 250)


sizes = st.integers(1, 5000)


@given(source=st.tuples(sizes, sizes), box=st.tuples(sizes, sizes), fit=st.sampled_from(Fit))
def test_every_plan_is_sane(source: tuple[int, int], box: tuple[int, int], fit: Fit) -> None:
    result = plan(source, TransformSpec(width=box[0], height=box[1], fit=fit))
    left, top, right, bottom = result.crop
    assert 0 <= left < right <= source[0]
    assert 0 <= top < bottom <= source[1]
    # never enlarged: at most one source pixel per output pixel, give or take rounding
    assert result.size[0] <= right - left + 1
    assert result.size[1] <= bottom - top + 1
    assert result.size[0] <= result.canvas[0]
    assert result.size[1] <= result.canvas[1]
    if fit in (Fit.COVER, Fit.FILL, Fit.CONTAIN):
        assert result.canvas[0] <= box[0]
        assert result.canvas[1] <= box[1]
        # the box's aspect ratio is kept (to a pixel of rounding)
        assert abs(result.canvas[0] * box[1] - result.canvas[1] * box[0]) <= max(box)
    if fit is Fit.INSIDE:
        assert result.size[0] <= box[0]
        assert result.size[1] <= box[1]


@pytest.mark.parametrize(
    ("source", "box", "size", "canvas"),
    [
        ((100, 100), (50, 20), (20, 20), (50, 20)),  # the height limits: 20x20 on a 50x20 canvas
        ((1000, 500), (300, 100), (200, 100), (300, 100)),
        ((500, 1000), (300, 100), (50, 100), (300, 100)),
    ],
)
def test_contain_fits_the_side_that_limits_and_pads_the_other(
    source: tuple[int, int], box: tuple[int, int], size: tuple[int, int], canvas: tuple[int, int]
) -> None:
    result = plan(source, TransformSpec(width=box[0], height=box[1], fit=Fit.CONTAIN))
    assert (result.size, result.canvas) == (size, canvas)
    assert result.offset == ((canvas[0] - size[0]) // 2, (canvas[1] - size[1]) // 2)


def test_cover_crops_the_middle_of_a_tall_source() -> None:
    result = plan((500, 1000), TransformSpec(width=200, height=100, fit=Fit.COVER))
    assert result.crop == (0, 375, 500, 625)  # 250 rows, as many above as below


@pytest.mark.parametrize(
    ("source", "spec", "size", "crop"),
    [
        ((1000, 1), TransformSpec(width=10, height=None), (10, 1), (0, 0, 1000, 1)),
        ((1, 1000), TransformSpec(width=None, height=10), (1, 10), (0, 0, 1, 1000)),
        ((10, 10), TransformSpec(width=1, height=1000, fit=Fit.COVER), (1, 10), (4, 0, 5, 10)),
        ((10, 10), TransformSpec(width=1000, height=1, fit=Fit.COVER), (10, 1), (0, 4, 10, 5)),
    ],
)
def test_a_side_never_rounds_below_one_pixel(
    source: tuple[int, int],
    spec: TransformSpec,
    size: tuple[int, int],
    crop: tuple[float, ...],
) -> None:
    result = plan(source, spec)
    assert result.size == result.canvas == size
    assert result.crop == crop


@pytest.mark.parametrize(
    ("position", "wide_left", "tall_top"),
    [
        (Position.CENTER, 250, 375),
        (Position.LEFT, 0, 375),
        (Position.RIGHT, 500, 375),
        (Position.TOP, 250, 0),
        (Position.BOTTOM, 250, 750),
        (Position.TOP_LEFT, 0, 0),
        (Position.BOTTOM_RIGHT, 500, 750),
    ],
)
def test_a_cover_crop_keeps_the_side_or_corner_asked_for(
    position: Position, wide_left: int, tall_top: int
) -> None:
    wide = plan((1000, 500), TransformSpec(width=200, height=200, fit=Fit.COVER, position=position))
    assert wide.crop == (wide_left, 0, wide_left + 500, 500)
    tall = plan((500, 1000), TransformSpec(width=200, height=100, fit=Fit.COVER, position=position))
    assert tall.crop == (0, tall_top, 500, tall_top + 250)


@pytest.mark.parametrize(
    ("focus", "left"),
    [((0.5, 0.5), 250), ((0.4, 0.5), 150), ((0.1, 0.5), 0), ((0.95, 0.1), 500), ((0.6, 0.0), 350)],
)
def test_a_focal_point_is_kept_as_near_the_centre_as_the_source_allows(
    focus: tuple[float, float], left: int
) -> None:
    result = plan(
        (1000, 500),
        TransformSpec(width=200, height=200, fit=Fit.COVER, focus_x=focus[0], focus_y=focus[1]),
    )
    assert result.crop == (left, 0, left + 500, 500)


@pytest.mark.parametrize(
    ("focus", "top"), [((0.5, 0.5), 375), ((0.5, 0.3), 175), ((0.2, 0.05), 0), ((0.5, 0.95), 750)]
)
def test_a_focal_point_moves_a_tall_crop_up_and_down(focus: tuple[float, float], top: int) -> None:
    result = plan(
        (500, 1000),
        TransformSpec(width=200, height=100, fit=Fit.COVER, focus_x=focus[0], focus_y=focus[1]),
    )
    assert result.crop == (0, top, 500, top + 250)


@pytest.mark.parametrize(
    ("position", "beside", "above"),
    [
        (Position.CENTER, (50, 0), (0, 50)),
        (Position.LEFT, (0, 0), (0, 50)),
        (Position.RIGHT, (100, 0), (0, 50)),
        (Position.TOP_RIGHT, (100, 0), (0, 0)),
        (Position.BOTTOM, (50, 0), (0, 100)),
    ],
)
def test_contain_places_the_picture_where_asked(
    position: Position, beside: tuple[int, int], above: tuple[int, int]
) -> None:
    wide = plan(
        (1000, 500), TransformSpec(width=300, height=100, fit=Fit.CONTAIN, position=position)
    )
    assert (wide.size, wide.canvas, wide.offset) == ((200, 100), (300, 100), beside)
    tall = plan(
        (500, 1000), TransformSpec(width=100, height=300, fit=Fit.CONTAIN, position=position)
    )
    assert (tall.size, tall.canvas, tall.offset) == ((100, 200), (100, 300), above)


def test_a_strategy_moves_its_crop_but_never_out_of_the_source() -> None:
    centred = plan((1000, 500), TransformSpec(width=200, height=200, fit=Fit.COVER))
    assert centred.moved_to(100.7, 0, (1000, 500)).crop == (100, 0, 600, 500)
    assert centred.moved_to(900, -40, (1000, 500)).crop == (500, 0, 1000, 500)
    assert centred.moved_to(-5, 0, (1000, 500)).crop == (0, 0, 500, 500)
    tall = plan(
        (500, 1000), TransformSpec(width=200, height=100, fit=Fit.COVER)
    )  # a crop that starts lower
    assert tall.moved_to(0, 10.5, (500, 1000)).crop == (0, 10, 500, 260)
