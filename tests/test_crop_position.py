"""Where a crop sits: sides and corners, a focal point, and the strategies that look at the
picture (entropy, attention), on pictures whose subject is known by construction, under every
EXIF orientation."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from PIL import Image, ImageDraw, ImageOps, ImageStat

from conftest import decoded, get
from image_optimizer.pipeline import render
from image_optimizer.request import parse_query
from images import ORIENTATION, decode, encode, psnr

SIDE = 1000
PATCH = 200
CORNERS = {
    "top-left": (0, 0),
    "top-right": (SIDE - PATCH, 0),
    "bottom-left": (0, SIDE - PATCH),
    "bottom-right": (SIDE - PATCH, SIDE - PATCH),
}
# Transposes that store the picture so that EXIF orientation N shows it upright again.
STORED_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def detailed(corner: tuple[int, int]) -> Image.Image:
    """Flat grey, with a patch of fine detail (noise): what entropy must keep."""
    picture = Image.new("RGB", (SIDE, SIDE), (128, 128, 128))
    rng = random.Random(4)
    noise = Image.frombytes("RGB", (PATCH, PATCH), rng.randbytes(PATCH * PATCH * 3))
    picture.paste(noise, corner)
    return picture


def striking(corner: tuple[int, int]) -> Image.Image:
    """Dull, slightly textured grey, with a saturated red figure: what attention must keep."""
    rng = random.Random(5)
    noise = Image.frombytes("L", (SIDE, SIDE), rng.randbytes(SIDE * SIDE))
    picture = noise.point(lambda value: 110 + value * 30 // 256).convert("RGB")
    ImageDraw.Draw(picture).ellipse(
        (*corner, corner[0] + PATCH, corner[1] + PATCH), fill=(220, 30, 40)
    )
    return picture


def stored(picture: Image.Image, orientation: int) -> bytes:
    """The picture as a camera may store it: turned, with the EXIF tag that turns it back."""
    method = STORED_AS[orientation]
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    pixels = picture if method is None else picture.transpose(method)
    data = encode(pixels, "JPEG", quality=95, exif=exif.tobytes())
    upright = ImageOps.exif_transpose(decode(data))  # Pillow's own reading of the tag agrees
    assert upright is not None
    assert upright.size == picture.size
    assert psnr(upright.convert("RGB"), picture) > 25
    return data


def kept(query: str, data: bytes) -> Image.Image:
    return decode(render(data, parse_query(query, None, 4096), max_pixels=10**9).body).convert(
        "RGB"
    )


def detail_in(image: Image.Image) -> float:
    return max(ImageStat.Stat(image).stddev)


def red_in(image: Image.Image) -> float:
    data = image.tobytes()
    pixels = [data[i : i + 3] for i in range(0, len(data), 3)]
    return sum(1 for r, g, b in pixels if r > 150 and g < 90 and b < 90) / len(pixels)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("corner", CORNERS)
@pytest.mark.parametrize("box", ["w=400&h=100", "w=100&h=400"])
def test_entropy_keeps_the_detail(orientation: int, corner: str, box: str) -> None:
    data = stored(detailed(CORNERS[corner]), orientation)
    assert detail_in(kept(f"{box}&position=entropy", data)) > 4
    assert detail_in(kept(box, data)) < 2  # a centred crop misses it: the test can fail


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("corner", CORNERS)
@pytest.mark.parametrize("box", ["w=400&h=100", "w=100&h=400"])
def test_attention_keeps_the_striking_figure(orientation: int, corner: str, box: str) -> None:
    data = stored(striking(CORNERS[corner]), orientation)
    assert red_in(kept(f"{box}&position=attention", data)) > 0.1
    assert red_in(kept(box, data)) == 0  # a centred crop misses it


def test_attention_prefers_skin_to_mere_saturation() -> None:
    picture = Image.new("RGB", (SIDE, 400), (60, 60, 60))
    ImageDraw.Draw(picture).rectangle((20, 100, 220, 300), fill=(40, 200, 240))  # saturated cyan
    ImageDraw.Draw(picture).ellipse((760, 100, 960, 300), fill=(224, 172, 140))  # a face's tone
    image = kept("w=100&h=100&position=attention", encode(picture, "PNG"))
    r, g, b = image.getpixel((50, 50))  # type: ignore[misc]
    assert r > g > b  # the skin tone, not the cyan


@pytest.mark.parametrize("orientation", [1, 6, 8])
@pytest.mark.parametrize(
    ("position", "corner"),
    [
        ("top-left", "top-left"),
        ("bottom-right", "bottom-right"),
        ("left", "top-left"),
        ("bottom", "bottom-left"),
    ],
)
def test_a_named_side_or_corner_is_kept(orientation: int, position: str, corner: str) -> None:
    data = stored(detailed(CORNERS[corner]), orientation)
    box = "w=400&h=100" if position in ("bottom",) else "w=100&h=400"
    assert detail_in(kept(f"{box}&position={position}", data)) > 4


@pytest.mark.parametrize("orientation", [1, 5, 7])
def test_a_focal_point_is_kept(orientation: int) -> None:
    data = stored(detailed(CORNERS["top-right"]), orientation)
    assert detail_in(kept("w=100&h=400&fx=0.9&fy=0.1", data)) > 4
    assert detail_in(kept("w=100&h=400&fx=0.1&fy=0.1", data)) < 2


def test_the_strategies_through_the_handler(
    s3_handler: Callable[..., None], s3: object, tmp_path: object
) -> None:
    from conftest import BUCKET, PREFIX

    s3.put_object(
        Bucket=BUCKET, Key=f"{PREFIX}figure.jpg", Body=stored(striking(CORNERS["bottom-right"]), 6)
    )  # type: ignore[attr-defined]
    response = get("/images/figure.jpg?w=100&h=400&position=attention&format=png")
    assert response["statusCode"] == 200
    assert red_in(decoded(response).convert("RGB")) > 0.1
