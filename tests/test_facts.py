"""format=json: the facts about an image and its placeholders, held to independent answers:
ThumbHash's reference implementation (evanw/thumbhash, run under node), the files' own sizes
and frames, and colours computed here."""

from __future__ import annotations

import base64
import io
import json
import random
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image, ImageStat

from conftest import BUCKET, CORPUS, PREFIX, ROOT, error_of, get
from edge_runner import node
from image_optimizer import thumbhash
from images import encode

REFERENCE = ROOT / "tests" / "reference"


def reference(call: str, cases: list[Any]) -> list[Any]:
    """``call`` (JavaScript over ``thumbhash`` and one case ``c``) on each case, by the
    reference implementation."""
    script = f"""
import('thumbhash').then((thumbhash) => {{
    const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
    const b64 = (s) => Buffer.from(s, 'base64');
    process.stdout.write(JSON.stringify(cases.map((c) => {call})));
}});
"""
    assert (REFERENCE / "node_modules" / "thumbhash").is_dir(), "make test installs it (npm ci)"
    result = subprocess.run(
        [node(), "-e", script], input=json.dumps(cases), capture_output=True, text=True,
        cwd=REFERENCE, check=True, timeout=60,
    )  # fmt: skip
    answers: list[Any] = json.loads(result.stdout)
    return answers


def random_rgba(width: int, height: int, alpha: bool, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(
        rng.randrange(256) if alpha or index % 4 != 3 else 255
        for index in range(width * height * 4)
    )


def test_thumbhash_gives_the_reference_bytes() -> None:
    """Known answers computed by the reference encoder: random pixels (with and without
    alpha, every aspect) and the corpus' pictures reduced to 32 px."""
    cases = [
        (w, h, random_rgba(w, h, alpha, seed))
        for seed, (w, h, alpha) in enumerate(
            [(32, 24, False), (24, 32, True), (1, 1, False), (100, 3, True), (7, 13, False),
             (32, 32, True), (100, 100, False), (5, 5, True)]
        )
    ]  # fmt: skip
    for name in ("tree.webp", "webp-alpha.webp", "palette-trns.png", "exif-orient6.jpg"):
        image = Image.open(CORPUS / name).convert("RGBA")
        image.thumbnail((32, 32))
        cases.append((image.width, image.height, image.tobytes()))
    expected = reference(
        "Buffer.from(thumbhash.rgbaToThumbHash(c[0], c[1], b64(c[2]))).toString('base64')",
        [[w, h, base64.b64encode(pixels).decode()] for w, h, pixels in cases],
    )
    ours = [base64.b64encode(thumbhash.encode(w, h, pixels)).decode() for w, h, pixels in cases]
    assert ours == expected


def test_thumbhash_refuses_what_the_reference_refuses() -> None:
    with pytest.raises(ValueError, match="100x100"):
        thumbhash.encode(101, 1, bytes(404))
    with pytest.raises(ValueError, match="100x100"):
        thumbhash.encode(2, 2, bytes(15))


def facts_of(path: str) -> dict[str, Any]:
    answer = get(f"/images/{path}")
    assert answer["statusCode"] == 200, answer["body"]
    assert answer["headers"]["Content-Type"] == "application/json"
    facts: dict[str, Any] = json.loads(base64.b64decode(answer["body"]))
    return facts


@pytest.mark.parametrize(
    ("name", "size", "fmt", "frames", "alpha"),
    [
        ("phone-12mp-orient6-icc.jpg", (3024, 4032), "jpeg", 1, False),  # after orientation
        ("heic-iphone-turned-icc.heic", (3024, 4032), "heif", 1, False),
        ("animated-earth.gif", (400, 400), "gif", 44, False),
        ("animated-iss634.webp", (245, 245), "webp", 42, True),
        ("webp-alpha.webp", (200, 150), "webp", 1, True),
        ("avif-irot-imir.avif", (640, 427), "avif", 1, False),
    ],
)
def test_the_facts_are_the_image_as_displayed(
    s3_handler: Callable[..., None],
    name: str, size: tuple[int, int], fmt: str, frames: int, alpha: bool,
) -> None:  # fmt: skip
    facts = facts_of(f"corpus/{name}?format=json")
    assert (facts["width"], facts["height"]) == size
    assert (facts["format"], facts["frames"], facts["alpha"]) == (fmt, frames, alpha)
    assert facts["bytes"] == (CORPUS / name).stat().st_size


def test_the_placeholders_look_like_the_picture(s3_handler: Callable[..., None]) -> None:
    name = "tree.webp"
    facts = facts_of(f"corpus/{name}?format=json")
    picture = Image.open(CORPUS / name).convert("RGB")
    mean = ImageStat.Stat(picture).mean
    # The reference's own reading of our hash: the picture's aspect ratio and average colour.
    ratio, average = reference(
        "[thumbhash.thumbHashToApproximateAspectRatio(b64(c)),"
        " Array.from(Object.values(thumbhash.thumbHashToAverageRGBA(b64(c))))]",
        [facts["thumbhash"]],
    )[0]
    assert ratio == pytest.approx(picture.width / picture.height, rel=0.1)
    assert [round(channel * 255) for channel in average[:3]] == pytest.approx(mean, abs=6)
    prefix = "data:image/webp;base64,"
    assert facts["placeholder"].startswith(prefix)
    tiny = Image.open(io.BytesIO(base64.b64decode(facts["placeholder"].removeprefix(prefix))))
    assert max(tiny.size) == 16
    assert tiny.width / tiny.height == pytest.approx(picture.width / picture.height, rel=0.1)
    assert ImageStat.Stat(tiny.convert("RGB")).mean == pytest.approx(mean, abs=8)
    assert len(facts["placeholder"]) < 600


def test_the_colour_is_the_commonest_visible_one(s3_handler: Callable[..., None], s3: Any) -> None:
    # Mostly clear, some dark blue, more red: red is what shows most.
    image = Image.new("RGBA", (300, 200), (0, 255, 0, 0))
    image.paste((200, 30, 40, 255), (0, 0, 120, 200))
    image.paste((20, 30, 120, 255), (120, 0, 180, 200))
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}facts/mostly-clear.png", Body=encode(image, "PNG"))
    facts = facts_of("facts/mostly-clear.png?format=json")
    colour = bytes.fromhex(facts["color"].removeprefix("#"))
    assert list(colour) == pytest.approx([200, 30, 40], abs=3)  # the red, give or take a resize
    assert facts["alpha"] is True


def test_facts_are_cached_once_whatever_else_is_asked(
    s3_handler: Callable[..., None], redis_url: str
) -> None:
    s3_handler(REDIS_URL=redis_url)
    first = get("/images/landscapes/main.jpg?format=json&w=100")
    again = get("/images/landscapes/main.jpg?format=json&q=20&grayscale=1")
    assert (first["headers"]["X-Cache"], again["headers"]["X-Cache"]) == ("miss", "hit")
    assert first["body"] == again["body"]


def test_a_bad_source_is_refused_as_for_an_image(s3_handler: Callable[..., None], s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}facts/broken.jpg", Body=b"\xff\xd8\xff" + b"\0" * 50)
    answer = get("/images/facts/broken.jpg?format=json")
    assert (answer["statusCode"], error_of(answer)["code"]) == (422, "corrupt_image")
    s3_handler(MAX_SOURCE_PIXELS="1000")
    answer = get("/images/landscapes/main.jpg?format=json")
    assert (answer["statusCode"], error_of(answer)["code"]) == (413, "image_too_large")
