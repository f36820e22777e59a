"""HEIC/HEIF sources (pillow-heif): real phone files from pillow-heif's fixtures, turned once,
made into a format browsers show, limited before decoding, and damaged ones answered 4xx."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable

import pytest
from PIL import Image

from conftest import BUCKET, CORPUS, PREFIX, decoded, error_of, get
from image_optimizer.pipeline import render
from image_optimizer.request import parse_query

IPHONE = CORPUS / "heic-iphone-turned-icc.heic"
LIMIT = 10**9


def test_pillow_heif_is_imported_by_the_first_heif_source_only() -> None:
    """A new container pays for pillow-heif (about 40 ms) only when a HEIF source arrives."""
    code = f"""
import sys
from image_optimizer.pipeline import render
from image_optimizer.spec import TransformSpec
render(open({str(CORPUS / "exif-orient6.jpg")!r}, "rb").read(), TransformSpec(width=50),
       max_pixels=10**9)
before = "pillow_heif" in sys.modules
rendition = render(open({str(IPHONE)!r}, "rb").read(), TransformSpec(width=50), max_pixels=10**9)
print(before, "pillow_heif" in sys.modules, rendition.width, rendition.height)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False", "True", "50", "67"]


def test_an_iphone_photo_is_turned_once_by_its_own_transform() -> None:
    """The file stores 4032x3024 and an irot box; libheif applies it (and pillow-heif sets the
    EXIF orientation to 1), so the answer is portrait, not turned a second time."""
    rendition = render(IPHONE.read_bytes(), parse_query("w=300", None, 4096), max_pixels=LIMIT)
    assert (rendition.width, rendition.height) == (300, 400)
    assert (rendition.source_width, rendition.source_height) == (3024, 4032)


def test_with_no_format_it_becomes_jpeg_or_png_with_alpha(s3_handler: Callable[..., None]) -> None:
    photo = get("/images/corpus/heic-phone-xiaomi.heic?w=200")
    assert photo["headers"]["Content-Type"] == "image/jpeg"
    assert decoded(photo).size == (200, 150)
    clear = get("/images/corpus/heif-10bit-alpha.heif")
    assert clear["headers"]["Content-Type"] == "image/png"
    image = decoded(clear)
    assert image.mode == "RGBA"
    assert image.getchannel("A").getextrema()[0] < 255
    auto = get("/images/corpus/heic-phone-xiaomi.heic?w=200&format=auto", accept="image/avif")
    assert auto["headers"]["Content-Type"] == "image/avif"


def test_its_colour_profile_is_kept_as_a_jpegs_would_be() -> None:
    source = Image.open(IPHONE)
    profile = source.info["icc_profile"]
    assert len(profile) < 8192  # small: carried, not converted
    body = render(IPHONE.read_bytes(), parse_query("w=100", None, 4096), max_pixels=LIMIT).body
    assert Image.open(io.BytesIO(body)).info.get("icc_profile") == profile


def test_the_pixel_cap_holds_before_decoding(s3_handler: Callable[..., None]) -> None:
    s3_handler(MAX_SOURCE_PIXELS="5000000")  # the Xiaomi photo is 5.04 MP
    answer = get("/images/corpus/heic-phone-xiaomi.heic?w=100")
    assert answer["statusCode"] == 413
    assert error_of(answer)["code"] == "image_too_large"


@pytest.mark.parametrize("damage", ["truncated", "header flipped", "brand only"])
def test_a_damaged_heif_is_a_4xx_never_a_500(
    s3_handler: Callable[..., None], s3: object, damage: str
) -> None:
    data = (CORPUS / "heic-phone-xiaomi.heic").read_bytes()
    damaged = {
        "truncated": data[:4000],
        "header flipped": data[:40] + bytes(b ^ 0xFF for b in data[40:400]) + data[400:],
        "brand only": data[:12],
    }[damage]
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}damaged/{damage}.heic", Body=damaged)  # type: ignore[attr-defined]
    answer = get(f"/images/damaged/{damage.replace(' ', '%20')}.heic?w=100")
    assert answer["statusCode"] == 422, answer["body"]
    assert error_of(answer)["code"] == "corrupt_image"
