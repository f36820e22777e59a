"""Watermarks: drawn where and as the deployment says, held to composites computed here; their
pictures read once and again when replaced, their identity in the cache key, a replaced picture
taken off CloudFront by the purge path, and the names refused alike at the edge and in the
function."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from PIL import Image, ImageSequence

from conftest import BUCKET, CORPUS, PREFIX, decoded, error_of, get, load_event
from edge_runner import CHROME, at_the_edge
from image_optimizer import invalidation, purge
from image_optimizer.cache import cache_key
from image_optimizer.cache.memory import MemoryCache
from image_optimizer.errors import SourceUnavailable, WatermarkUnavailable
from image_optimizer.overlay import decoded as overlay_of
from image_optimizer.parameters import Position
from image_optimizer.pipeline import render
from image_optimizer.request import parse_query
from image_optimizer.service import ImageService
from image_optimizer.settings import ConfigurationError, Settings
from image_optimizer.sources.folder import FolderSource
from image_optimizer.watermarks import Watermark, WatermarkPictures, read_watermarks
from image_optimizer_cli.lambda_events import LocalContext
from images import decode, encode, gradient

LIMIT = 10**9
BASE = gradient((400, 300))  # an output of exactly this size: no resampling in the way


def mark_picture(size: tuple[int, int] = (100, 40), seed: int = 3) -> Image.Image:
    """Colours and an alpha that vary everywhere, so that a misplaced pixel shows."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8), "RGBA")


def marked(base: Image.Image, query: str, *marks: tuple[Watermark, Image.Image]) -> Image.Image:
    overlays = [overlay_of(encode(picture, "PNG"), mark, LIMIT) for mark, picture in marks]
    spec = parse_query(query, None, 4096)
    return decode(render(encode(base, "PNG"), spec, max_pixels=LIMIT, overlays=overlays).body)


def floats(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def test_over_an_opaque_image_it_is_the_alpha_blend_at_its_place() -> None:
    picture = mark_picture()
    mark = Watermark(name="logo", key="k", width=0.25, opacity=0.5)  # 100 px: its own size
    out = floats(marked(BASE, "format=png", (mark, picture)))
    # Bottom right, 8 px (2% of 400) from the edges.
    left, top = 400 - 8 - 100, 300 - 8 - 40
    colours, alpha = floats(picture)[..., :3], np.round(floats(picture)[..., 3:] * 0.5) / 255
    expected = floats(BASE).copy()
    region = expected[top : top + 40, left : left + 100]
    expected[top : top + 40, left : left + 100] = colours * alpha + region * (1 - alpha)
    assert np.abs(out - expected).max() <= 1


def test_over_a_transparent_image_it_is_the_over_operator() -> None:
    base = BASE.convert("RGBA")
    base.putalpha(Image.linear_gradient("L").resize(base.size))  # from clear to opaque
    picture = mark_picture()
    mark = Watermark(name="logo", key="k", position=Position.TOP_LEFT, margin=0)
    out = floats(marked(base, "format=png", (mark, picture)))[:40, :100]
    under, over = floats(base)[:40, :100] / 255, floats(picture) / 255
    a_over, a_under = over[..., 3:], under[..., 3:]
    a_out = a_over + a_under * (1 - a_over)
    colour = (over[..., :3] * a_over + under[..., :3] * a_under * (1 - a_over)) / np.maximum(
        a_out, 1e-9
    )
    visible = a_out[..., 0] > 0.05  # the colour of a nearly clear pixel is all rounding
    assert np.abs(out[..., 3] - a_out[..., 0] * 255).max() <= 1
    assert np.abs(out[..., :3][visible] - colour[visible] * 255).max() <= 2


NINE = {
    "top-left": (0, 0), "top": (0.5, 0), "top-right": (1, 0), "left": (0, 0.5),
    "center": (0.5, 0.5), "right": (1, 0.5), "bottom-left": (0, 1), "bottom": (0.5, 1),
    "bottom-right": (1, 1),
}  # fmt: skip


@pytest.mark.parametrize("position", NINE)
def test_each_of_the_nine_places(position: str) -> None:
    solid = Image.new("RGBA", (60, 30), (255, 0, 0, 255))
    mark = Watermark(name="m", key="k", position=Position(position), width=0.15, margin=0.05)
    out = marked(BASE, "format=png", (mark, solid))
    changed = np.argwhere(np.any(floats(out) != floats(BASE), axis=2))
    (top, left), (bottom, right) = changed.min(axis=0), changed.max(axis=0) + 1
    x, y = NINE[position]
    # 60 px wide (15% of 400), 20 margin px: the room is 360 x 260.
    assert (right - left, bottom - top) == (60, 30)
    assert (left, top) == (20 + round(300 * x), 20 + round(230 * y))


def test_too_tall_to_fit_it_is_made_smaller_to_stay_between_the_margins() -> None:
    tall = Image.new("RGBA", (50, 500), (0, 0, 255, 255))
    mark = Watermark(name="m", key="k", width=0.5, margin=0.025)  # 10 px margins
    out = marked(BASE, "format=png", (mark, tall))
    changed = np.argwhere(np.any(floats(out) != floats(BASE), axis=2))
    (top, _), (bottom, _) = changed.min(axis=0), changed.max(axis=0) + 1
    assert (top, bottom) == (10, 290)  # 280 tall (the room), not 2,000


def test_it_is_scaled_with_the_output_and_left_off_narrow_ones() -> None:
    picture = mark_picture((200, 80))
    mark = Watermark(name="m", key="k", width=0.25, min_image_width=150)
    wide = marked(BASE, "w=200&format=png", (mark, picture))
    plain = marked(BASE, "w=200&format=png")
    changed = np.argwhere(np.any(floats(wide) != floats(plain), axis=2))
    assert changed.max(axis=0)[1] - changed.min(axis=0)[1] + 1 == 50  # a quarter of 200
    assert marked(BASE, "w=100&format=png", (mark, picture)).tobytes() == (
        marked(BASE, "w=100&format=png").tobytes()
    )


def test_it_comes_after_grayscale_and_blur_so_it_keeps_its_colour_and_edges() -> None:
    solid = Image.new("RGBA", (100, 40), (255, 0, 0, 255))
    mark = Watermark(name="m", key="k", margin=0)
    out = marked(BASE, "grayscale=1&blur=3&format=png", (mark, solid))
    assert out.mode == "RGB"
    assert out.getpixel((399, 299)) == (255, 0, 0)
    assert out.getpixel((300, 299)) == (255, 0, 0)  # its edge is sharp: not blurred
    assert len(set(out.getpixel((10, 10)))) == 1  # the rest is grey


def test_every_frame_of_an_animation_carries_it() -> None:
    solid = Image.new("RGBA", (100, 100), (255, 0, 0, 255))
    mark = Watermark(name="m", key="k", width=0.2, margin=0)
    spec = parse_query("w=200&format=gif", None, 4096)
    overlays = [overlay_of(encode(solid, "PNG"), mark, LIMIT)]
    data = (CORPUS / "animated-earth.gif").read_bytes()
    out = Image.open(io.BytesIO(render(data, spec, max_pixels=LIMIT, overlays=overlays).body))
    frames = [frame.convert("RGB") for frame in ImageSequence.Iterator(out)]
    assert len(frames) > 10
    for frame in frames:
        assert frame.getpixel((frame.width - 20, frame.height - 20)) == (255, 0, 0)


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("[1]", "JSON object"),
        ("{nope", "is not JSON"),
        ('{"Logo": {"key": "a.png"}}', "names 'Logo'"),
        ('{"logo": {}}', "at least a key"),
        ('{"logo": {"key": "a.png", "size": 1}}', "has size"),
        ('{"logo": {"key": "a.png", "position": "entropy"}}', "position must be one of"),
        ('{"logo": {"key": "a.png", "width": 0}}', "width must be"),
        ('{"logo": {"key": "a.png", "opacity": 1.5}}', "opacity must be"),
        ('{"logo": {"key": "a.png", "margin": 0.5}}', "margin must be"),
        ('{"logo": {"key": "a.png", "min_image_width": true}}', "min_image_width must be"),
        ('{"logo": {"key": "brand/"}}', "key must be"),
    ],
)
def test_a_bad_watermarks_setting_is_refused_naming_it(raw: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError, match="WATERMARKS") as refused:
        Settings.from_env({"SOURCE_BUCKET": "b", "WATERMARKS": raw})
    assert complaint in str(refused.value)


def test_watermark_always_must_be_one_of_them() -> None:
    with pytest.raises(ConfigurationError, match="WATERMARK_ALWAYS must name"):
        Settings.from_env(
            {"SOURCE_BUCKET": "b", "WATERMARKS": '{"a": {"key": "a.png"}}', "WATERMARK_ALWAYS": "b"}
        )


def test_a_preset_may_draw_one_of_them_and_no_other() -> None:
    marks = '{"logo": {"key": "a.png"}}'
    presets = Settings.from_env(
        {"SOURCE_BUCKET": "b", "WATERMARKS": marks, "PRESETS": "card:w=400&watermark=LOGO"}
    ).presets
    assert presets == {"card": {"w": "400", "watermark": "logo"}}
    with pytest.raises(ConfigurationError, match="watermark must be one of logo, got 'x'"):
        Settings.from_env({"SOURCE_BUCKET": "b", "WATERMARKS": marks, "PRESETS": "c:watermark=x"})


# The identity and the cache key are what a second implementation (a purge tool, say) must
# reproduce: computed here from their documented forms.
LOGO_PLACEMENT = (
    '{"key":"brand/logo.png","margin":0.02,"min_image_width":0,"name":"logo",'
    '"opacity":1.0,"position":"bottom-right","width":0.25}'
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "brand").mkdir()
    (tmp_path / "brand" / "logo.png").write_bytes(encode(mark_picture(), "PNG"))
    (tmp_path / "photo.png").write_bytes(encode(BASE, "PNG"))
    return tmp_path


def service_over(folder: Path, clock: Clock, always: str | None = None) -> ImageService:
    source = FolderSource(folder, 10**9)
    watermarks = read_watermarks(
        '{"logo": {"key": "brand/logo.png"}, "gone": {"key": "brand/none.png"},'
        ' "broken": {"key": "photo.png.txt"}}'
    )
    pictures = WatermarkPictures(source, watermarks, always=always, check_seconds=60, clock=clock)
    return ImageService(source, MemoryCache(10**8), max_source_pixels=LIMIT, watermarks=pictures)


def test_the_cache_key_names_the_pictures_identity(folder: Path) -> None:
    service = service_over(folder, Clock())
    spec = parse_query("w=200&watermark=logo", None, 4096, {"watermark": frozenset({"logo"})})
    data = (folder / "brand" / "logo.png").read_bytes()
    identity = "logo:" + hashlib.sha256(LOGO_PLACEMENT.encode() + data).hexdigest()[:32]
    (picture,) = service.watermarks.pictures("logo")
    assert picture.identity == identity
    material = f"1|photo.png|w=200&h=&fit=cover&format=source&q=default&watermark=logo|{identity}"
    expected = hashlib.sha256(material.encode()).hexdigest()
    assert cache_key("photo.png", spec, (identity,)).variant == expected
    assert cache_key("photo.png", spec).variant != expected  # without it, another entry


def test_a_replaced_picture_is_read_once_its_check_time_has_passed(folder: Path) -> None:
    clock = Clock()
    service = service_over(folder, clock)
    spec = parse_query("watermark=logo&format=png", None, 4096, {"watermark": frozenset({"logo"})})
    first = service.serve("photo.png", spec)
    assert first.cache_status == "miss"
    assert service.serve("photo.png", spec).cache_status == "hit"
    (folder / "brand" / "logo.png").write_bytes(encode(mark_picture(seed=9), "PNG"))
    clock.now += 59
    assert service.serve("photo.png", spec).image.body == first.image.body  # trusted a minute
    clock.now += 2
    again = service.serve("photo.png", spec)
    assert again.cache_status == "miss"  # a key of its own: the old entry is never served
    assert again.image.body != first.image.body
    clock.now += 61  # read again, the same bytes: the same entry
    assert service.serve("photo.png", spec).cache_status == "hit"


def test_an_outage_while_checking_keeps_the_picture_held(folder: Path) -> None:
    clock = Clock()
    service = service_over(folder, clock)
    spec = parse_query("watermark=logo", None, 4096, {"watermark": frozenset({"logo"})})
    service.serve("photo.png", spec)

    def down(key: str) -> bytes:
        raise SourceUnavailable("down")

    service.watermarks._source = type("Down", (), {"fetch": staticmethod(down)})()  # type: ignore[assignment]
    clock.now += 120
    assert service.serve("photo.png", spec).cache_status == "hit"


@pytest.mark.parametrize("name", ["gone", "broken"])
def test_a_missing_or_unreadable_picture_is_the_deployments_fault(folder: Path, name: str) -> None:
    (folder / "photo.png.txt").write_bytes(b"not an image")
    service = service_over(folder, Clock())
    spec = parse_query(f"watermark={name}", None, 4096, {"watermark": frozenset({name})})
    with pytest.raises(WatermarkUnavailable) as refused:
        service.serve("photo.png", spec)
    assert refused.value.status == 500
    assert "brand/" not in refused.value.message
    assert "photo.png.txt" not in refused.value.message
    assert refused.value.reason is not None  # where it is, for the log


def test_the_always_on_one_is_drawn_over_the_urls(folder: Path) -> None:
    clock = Clock()
    plain = service_over(folder, clock)
    always = service_over(folder, clock, always="logo")
    spec = parse_query("format=png", None, 4096)
    unmarked = plain.serve("photo.png", spec).image.body
    assert always.serve("photo.png", spec).image.body != unmarked
    asked = parse_query("watermark=logo&format=png", None, 4096, {"watermark": frozenset({"logo"})})
    assert always.serve("photo.png", asked).image.body == plain.serve("photo.png", asked).image.body
    assert always.watermarks.names("other") == ("other", "logo")


WATERMARKS_IN_BUCKET = '{"logo": {"key": "brand/logo.png", "opacity": 0.8}}'


@pytest.fixture
def in_bucket(s3_endpoint: str) -> None:
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key=f"{PREFIX}brand/logo.png", Body=encode(mark_picture(), "PNG")
    )


def test_through_the_handler_from_s3_and_redis(
    s3_handler: Callable[..., None], in_bucket: None, redis_url: str
) -> None:
    s3_handler(WATERMARKS=WATERMARKS_IN_BUCKET, REDIS_URL=redis_url)
    plain = get("/images/landscapes/main.jpg?w=400&format=png")
    answer = get("/images/landscapes/main.jpg?w=400&format=png&watermark=LOGO")
    assert answer["statusCode"] == 200, answer["body"]
    assert "watermark;dur=" in answer["headers"]["Server-Timing"]
    difference = np.any(floats(decoded(answer)) != floats(decoded(plain)), axis=2)
    rows, columns = np.nonzero(difference)
    assert rows.min() > decoded(answer).height / 2
    assert columns.min() > 400 * 0.7
    again = get("/images/landscapes/main.jpg?w=400&format=png&watermark=logo")
    assert again["headers"]["X-Cache"] == "hit"
    refused = get("/images/landscapes/main.jpg?watermark=other")
    assert refused["statusCode"] == 400
    assert error_of(refused) == {
        "code": "invalid_parameter",
        "message": "watermark must be one of logo, got 'other'",
        "parameter": "watermark",
    }


def test_the_handler_answers_500_not_404_when_the_picture_is_missing(
    s3_handler: Callable[..., None], s3_endpoint: str
) -> None:
    s3_handler(WATERMARKS='{"logo": {"key": "brand/missing.png"}}')
    answer = get("/images/landscapes/main.jpg?watermark=logo")
    assert answer["statusCode"] == 500
    assert error_of(answer)["code"] == "watermark_unavailable"
    assert answer["headers"]["Cache-Control"] == "no-store"


def test_without_watermarks_the_edge_and_the_function_refuse_every_name(
    s3_handler: Callable[..., None],
) -> None:
    message = (
        "watermark must be the name of a watermark: a-z, 0-9, _ and -, at most 32 characters "
        "(this deployment has none), got 'logo'"
    )
    assert error_of(get("/images/landscapes/main.jpg?watermark=logo"))["message"] == message
    (edge,) = at_the_edge(["watermark=logo"], CHROME)
    assert edge["error"]["message"] == message  # type: ignore[index]


def test_the_edge_forwards_a_known_name_in_its_one_spelling() -> None:
    listed = {"listed": {"watermark": WATERMARKS_IN_BUCKET}}
    forwarded = at_the_edge(["watermark=LOGO&w=10", "w=10&watermark=lo%67o"], CHROME, listed)
    assert forwarded == [{"query": "w=10&watermark=logo"}] * 2


class TestAReplacedPicture:
    """Through the purge path: the original's own purge, and CloudFront's every image URL
    once the functions have all read the new picture."""

    @pytest.fixture
    def queue(self, s3_endpoint: str) -> str:
        url: str = boto3.client("sqs").create_queue(QueueName=f"wm-{time.time_ns()}")["QueueUrl"]
        return url

    def test_the_purge_hands_over_every_image_after_the_check_time(
        self, configure: Callable[..., None], redis_url: str, queue: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:  # fmt: skip
        configure(
            SOURCE_BUCKET="my-images", SOURCE_PREFIX="originals/", REDIS_URL=redis_url,
            INVALIDATION_QUEUE_URL=queue, WATERMARKS='{"logo": {"key": "landscapes/main.jpg"}}',
            WATERMARK_CHECK_SECONDS="1",
        )  # fmt: skip
        for built_once in (purge.settings, purge.purging_cache, purge.results):
            built_once.cache_clear()
        monkeypatch.setattr(purge, "WATERMARK_INVALIDATION_MARGIN_SECONDS", 1)
        sent = time.monotonic()
        assert purge.lambda_handler(load_event("sqs-purge-batch.json"), LocalContext()) == {
            "batchItemFailures": []
        }
        bodies = receive(queue, wait=0)
        assert bodies == [{"keys": ["landscapes/main.jpg", "logos/badge.png", "photos/my cat.jpg"]}]
        later = receive(queue, wait=5)
        assert later == [{"keys": [], "prefixes": [""]}]
        assert time.monotonic() - sent >= 2  # not before the functions have read it again
        for built_once in (purge.settings, purge.purging_cache, purge.results):
            built_once.cache_clear()

    def test_its_invalidation_is_every_image_url(
        self, configure: Callable[..., None], distribution: str
    ) -> None:
        cloudfront = boto3.client("cloudfront")
        identifier = distribution
        configure(SOURCE_BUCKET="my-images", DISTRIBUTION_ID=identifier)
        invalidation.settings.cache_clear()
        invalidation.cloudfront.cache_clear()
        event = {"Records": [{"messageId": "1", "body": '{"keys": [], "prefixes": [""]}'}]}
        assert invalidation.lambda_handler(event, LocalContext()) == {"batchItemFailures": []}
        (listed,) = cloudfront.list_invalidations(DistributionId=identifier)["InvalidationList"][
            "Items"
        ]
        batch = cloudfront.get_invalidation(DistributionId=identifier, Id=listed["Id"])
        assert batch["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/images/*"]
        invalidation.settings.cache_clear()
        invalidation.cloudfront.cache_clear()


def receive(queue: str, wait: int) -> list[dict[str, Any]]:
    answer = boto3.client("sqs").receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=wait
    )
    return [json.loads(message["Body"]) for message in answer.get("Messages", [])]
