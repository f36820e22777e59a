"""Everyday edits (rotate, flip, grayscale, blur, sharpen, bg), each held to a reference made
here independently: a transpose, a conversion, a Gaussian and an unsharp mask computed with
scipy, a composite computed by hand."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image, ImageSequence
from scipy.ndimage import gaussian_filter

from conftest import CORPUS, error_of, get
from image_optimizer.pipeline import render
from image_optimizer.request import parse_query
from images import decode, encode, gradient, with_orientation

LIMIT = 10**9
PHOTO = (CORPUS / "flickr-6mp.jpg").read_bytes()


def made(data: bytes, query: str) -> Image.Image:
    return decode(render(data, parse_query(query, None, 4096), max_pixels=LIMIT).body)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


CLOCKWISE = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
             270: Image.Transpose.ROTATE_90}  # fmt: skip


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_rotate_is_the_upright_result_turned_and_w_describes_the_turned_picture(turn: int) -> None:
    turned = made(PHOTO, f"w=160&rotate={turn}&format=png")
    assert turned.width == 160
    # The same pixels of the original, asked for with the side that becomes the width.
    side = "h" if turn in (90, 270) else "w"
    upright = made(PHOTO, f"{side}=160&format=png")
    assert turned.tobytes() == upright.transpose(CLOCKWISE[turn]).tobytes()


def test_rotate_joins_the_exif_orientation() -> None:
    lying = with_orientation(gradient(), 6, "PNG")  # stored on its side, shown upright
    turned = made(lying, "w=50&rotate=90&format=png")
    upright = made(lying, "h=50&format=png")
    assert turned.tobytes() == upright.transpose(Image.Transpose.ROTATE_270).tobytes()


@pytest.mark.parametrize(
    ("flip", "transpose"),
    [("h", Image.Transpose.FLIP_LEFT_RIGHT), ("v", Image.Transpose.FLIP_TOP_BOTTOM),
     ("hv", Image.Transpose.ROTATE_180)],
)  # fmt: skip
def test_flip_mirrors(flip: str, transpose: Image.Transpose) -> None:
    """The same up to how Pillow places a resampling window on a fractional crop edge, which
    is not mirror-symmetric to the last bit."""
    mirrored = pixels(made(PHOTO, f"w=120&h=90&flip={flip}&format=png"))
    plain = pixels(made(PHOTO, "w=120&h=90&format=png").transpose(transpose))
    assert np.abs(mirrored - plain).mean() < 1  # against 44 for the picture unmirrored


def test_a_cover_crop_is_planned_on_the_turned_picture() -> None:
    """w and h are of the picture as turned: a crop of its top is the original's left side
    (turning clockwise takes the left edge to the top)."""
    top_of_turned = pixels(made(PHOTO, "w=100&h=40&rotate=90&position=top&format=png"))
    left_of_upright = made(PHOTO, "w=40&h=100&position=left&format=png")
    assert np.abs(top_of_turned - pixels(left_of_upright.transpose(CLOCKWISE[90]))).mean() < 1
    right_of_upright = made(PHOTO, "w=40&h=100&position=right&format=png")
    assert np.abs(top_of_turned - pixels(right_of_upright.transpose(CLOCKWISE[90]))).mean() > 5


def test_one_spelling_for_one_way_of_lying() -> None:
    """flip=v is flip=h turned half a turn: one cache entry for the two."""

    def canonical(query: str) -> str:
        return parse_query(query, None, 4096).canonical()

    assert canonical("w=9&flip=v") == canonical("w=9&flip=h&rotate=180")
    assert canonical("w=9&flip=hv") == canonical("w=9&rotate=180")
    assert canonical("w=9&rotate=0") == canonical("w=9")
    assert canonical("w=9&rotate=90") != canonical("w=9&rotate=270")


def test_grayscale_is_the_colour_result_converted() -> None:
    grey = made(PHOTO, "w=200&grayscale=1&format=png")
    assert grey.mode == "L"
    assert grey.tobytes() == made(PHOTO, "w=200&format=png").convert("L").tobytes()
    transparent = made(encode(gradient(mode="RGBA"), "PNG"), "w=50&grayscale=1&format=png")
    assert transparent.mode == "LA"  # the alpha stays


@pytest.mark.parametrize("sigma", [0.8, 2.5, 6.0])
def test_blur_is_a_gaussian_of_that_sigma_in_output_pixels(sigma: float) -> None:
    blurred = pixels(made(PHOTO, f"w=300&blur={sigma}&format=png"))
    plain = pixels(made(PHOTO, "w=300&format=png"))
    reference = gaussian_filter(plain, sigma=(sigma, sigma, 0), mode="nearest", truncate=3)
    inner = (slice(20, -20), slice(20, -20))  # the edges are extended differently
    assert np.abs(blurred[inner] - reference[inner]).mean() < 1.0


@pytest.mark.parametrize("sigma", [0.5, 1.5, 3.0])
def test_sharpen_adds_back_the_detail_a_gaussian_of_that_sigma_takes(sigma: float) -> None:
    sharpened = pixels(made(PHOTO, f"w=300&sharpen={sigma}&format=png"))
    plain = pixels(made(PHOTO, "w=300&format=png"))
    detail = plain - gaussian_filter(plain, sigma=(sigma, sigma, 0), mode="nearest", truncate=3)
    reference = np.clip(plain + detail, 0, 255)
    inner = (slice(20, -20), slice(20, -20))
    assert np.abs(sharpened[inner] - reference[inner]).mean() < 1.5
    assert np.abs(sharpened - plain).mean() > 1  # it did something


def test_blur_then_sharpen() -> None:
    both = made(PHOTO, "w=200&blur=2&sharpen=1&format=png")
    blurred = made(PHOTO, "w=200&blur=2&format=png")
    assert both.tobytes() != blurred.tobytes()


def test_bg_pads_a_contain_and_keeps_its_alpha_where_the_format_has_one() -> None:
    padded = made(PHOTO, "w=200&h=200&fit=contain&bg=FF000080&format=png")
    assert padded.mode == "RGBA"
    assert padded.getpixel((100, 2)) == (255, 0, 0, 128)  # above the picture
    opaque = made(PHOTO, "w=200&h=200&fit=contain&bg=0000ff&format=jpeg")
    red, green, blue = opaque.getpixel((100, 2))
    assert max(red, green) < 8
    assert blue > 245


def test_bg_is_what_alpha_is_flattened_onto() -> None:
    source = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    source.paste((200, 50, 50, 255), (10, 10, 30, 30))
    flattened = made(encode(source, "PNG"), "bg=00ff00&format=png&w=40")
    assert flattened.mode == "RGBA"  # PNG keeps the alpha: nothing to flatten
    jpeg = pixels(made(encode(source, "PNG"), "bg=00ff00&format=jpeg&q=100&w=40"))
    reference = Image.new("RGB", (40, 40), (0, 255, 0))
    reference.paste(source, mask=source)
    # Away from the square's edges, where JPEG's halved colour resolution blurs them.
    for region in ((slice(0, 6), slice(0, 6)), (slice(15, 25), slice(15, 25))):
        assert np.abs(jpeg[region] - pixels(reference)[region]).max() < 6


def test_every_frame_of_an_animation_is_edited_alike() -> None:
    data = (CORPUS / "animated-earth.gif").read_bytes()
    turned = Image.open(io.BytesIO(
        render(data, parse_query("w=60&rotate=90&grayscale=1&format=webp", None, 4096),
               max_pixels=LIMIT).body))  # fmt: skip
    frames = [frame.copy() for frame in ImageSequence.Iterator(turned)]
    assert len(frames) == 44
    for frame in frames:
        array = pixels(frame.convert("RGB"))
        assert frame.size == (60, 60)
        assert np.abs(array[..., 0] - array[..., 1]).max() < 3  # no colour left


@pytest.mark.parametrize(
    ("query", "parameter", "message"),
    [
        ("rotate=45", "rotate", "rotate must be one of 0, 90, 180, 270, got '45'"),
        ("flip=x", "flip", "flip must be one of h, v, hv, got 'x'"),
        ("grayscale=0", "grayscale", "grayscale must be 1 (no colour), got '0'"),
        ("blur=0.2", "blur", "blur must be a number from 0.3 to 100 (at most 1 decimal), "
         "got '0.2'"),
        ("sharpen=11", "sharpen", "sharpen must be a number from 0.5 to 10 (at most 1 decimal), "
         "got '11'"),
        ("bg=red", "bg", "bg must be a colour as RRGGBB or RRGGBBAA in hex, got 'red'"),
    ],
)  # fmt: skip
def test_bad_values_name_their_parameter_through_the_handler(
    samples_handler: None, query: str, parameter: str, message: str
) -> None:
    response = get(f"/images/landscapes/main.jpg?{query}")
    assert response["statusCode"] == 400
    assert error_of(response) == {
        "code": "invalid_parameter", "message": message, "parameter": parameter
    }  # fmt: skip


@pytest.fixture
def samples_handler(configure: object, samples_dir: object) -> None:
    configure(SOURCE_DIR=str(samples_dir))  # type: ignore[operator]


def test_the_edits_reach_the_image_through_the_handler(samples_handler: None) -> None:
    response = get("/images/landscapes/main.jpg?w=100&rotate=90&grayscale=1&format=png")
    assert response["statusCode"] == 200
    image = decode(base64.b64decode(response["body"]))
    assert image.mode == "L"
    assert image.width == 100
    assert image.height > image.width  # a landscape, turned
