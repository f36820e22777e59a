"""Animated sources stay animated: every frame resized, with its duration, the loop count and its
transparency; a still of the first frame when asked (frames=1) or when the format has no frames.

Each output frame is compared with an independent reference: Pillow's own decode of the same
source frame, resized once with LANCZOS.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

import pytest
from PIL import Image, ImageChops, ImageSequence

from conftest import CORPUS, decoded, get
from image_optimizer import pipeline
from image_optimizer.errors import CorruptImage, ImageTooLarge, TimeBudgetExceeded, TooManyFrames
from image_optimizer.formats import OUTPUT_FORMATS
from image_optimizer.pipeline import render
from image_optimizer.request import parse_query
from images import decode, encode, psnr

EARTH = "animated-earth.gif"  # 44 frames, 400x400, opaque, 90 ms a frame, loops
SQUARES = "animated-iss634.webp"  # 42 frames, 245x245, transparent
STAR = "animated-star.avif"  # 5 frames, 159x159, transparent
LIMIT = 10**9


def frames_of(data: bytes) -> list[tuple[Image.Image, int]]:
    """Every frame as the whole canvas in RGBA, with its duration, as Pillow decodes it."""
    image = Image.open(io.BytesIO(data))
    frames = []
    for frame in ImageSequence.Iterator(image):
        frame.load()
        frames.append((frame.convert("RGBA"), int(frame.info.get("duration") or 0)))
    return frames


def on_grey(image: Image.Image) -> Image.Image:
    background = Image.new("RGBA", image.size, (128, 128, 128, 255))
    return Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")


@pytest.mark.parametrize("fmt", ["webp", "avif", "gif"])
@pytest.mark.parametrize("name", [EARTH, SQUARES, STAR])
def test_every_frame_is_resized_with_its_duration(name: str, fmt: str) -> None:
    data = (CORPUS / name).read_bytes()
    rendition = render(data, parse_query(f"w=120&format={fmt}", None, 4096), max_pixels=LIMIT)
    source, made = frames_of(data), frames_of(rendition.body)
    assert rendition.frames == len(source) == len(made)
    shortest = 1 if fmt == "avif" else 0  # AVIF cannot say 0 ms: its encoder writes 1
    assert [d for _, d in made] == [max(d, shortest) for _, d in source]
    floor = 22 if fmt == "gif" else 28  # a GIF has 256 colours a frame
    for (original, _), (frame, _) in zip(source, made, strict=True):
        assert frame.size == (120, round(original.height * 120 / original.width))
        reference = original.resize(frame.size, Image.Resampling.LANCZOS)
        assert psnr(on_grey(frame), on_grey(reference)) > floor
        if original.getchannel("A").getextrema()[0] < 255:  # transparent somewhere
            alpha = ImageChops.difference(frame.getchannel("A"), reference.getchannel("A"))
            assert sum(alpha.histogram()[64:]) < frame.width * frame.height * 0.05


@pytest.mark.parametrize(
    ("name", "fmt", "loop"),
    [(EARTH, "webp", 65535), (EARTH, "gif", 65535), (SQUARES, "gif", 0), (STAR, "webp", 0)],
)
def test_the_loop_count_is_carried(name: str, fmt: str, loop: int) -> None:
    data = (CORPUS / name).read_bytes()
    body = render(data, parse_query(f"w=60&format={fmt}", None, 4096), max_pixels=LIMIT).body
    assert Image.open(io.BytesIO(body)).info["loop"] == loop


def test_a_gif_that_plays_once_still_plays_once() -> None:
    frames = [Image.new("RGB", (40, 40), colour) for colour in ("red", "lime", "blue")]
    once = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=200)
    assert "loop" not in Image.open(io.BytesIO(once)).info  # no NETSCAPE block: once
    as_gif = render(once, parse_query("w=20", None, 4096), max_pixels=LIMIT).body
    assert "loop" not in Image.open(io.BytesIO(as_gif)).info
    as_webp = render(once, parse_query("w=20&format=webp", None, 4096), max_pixels=LIMIT).body
    assert Image.open(io.BytesIO(as_webp)).info["loop"] == 1


@pytest.mark.parametrize(
    ("query", "fmt"),
    [
        ("w=120&format=jpeg", "JPEG"),
        ("w=120&format=png", "PNG"),
        ("w=120&format=webp&frames=1", "WEBP"),
    ],
)
def test_a_still_is_the_first_frame(query: str, fmt: str) -> None:
    data = (CORPUS / EARTH).read_bytes()
    rendition = render(data, parse_query(query, None, 4096), max_pixels=LIMIT)
    image = decode(rendition.body)
    assert (image.format, getattr(image, "n_frames", 1), rendition.frames) == (fmt, 1, 1)
    first = frames_of(data)[0][0].convert("RGB").resize(image.size, Image.Resampling.LANCZOS)
    assert psnr(image.convert("RGB"), first) > 28


def test_an_animation_is_smaller_than_the_gif_it_came_from() -> None:
    data = (CORPUS / EARTH).read_bytes()
    for query in ("format=webp", "format=avif", "w=200&format=webp", "w=200&format=gif"):
        body = render(data, parse_query(query, None, 4096), max_pixels=LIMIT).body
        assert len(body) < len(data) / 2, query


def test_too_many_frames_is_a_413_that_suggests_a_still() -> None:
    data = (CORPUS / EARTH).read_bytes()
    with pytest.raises(TooManyFrames) as caught:
        render(data, parse_query("format=webp", None, 4096), max_pixels=LIMIT, max_frames=43)
    assert caught.value.message == (
        "the animation has more than the 43 frames allowed; ask for frames=1 for a still"
    )
    render(data, parse_query("format=webp&frames=1", None, 4096), max_pixels=LIMIT, max_frames=43)
    render(data, parse_query("format=webp", None, 4096), max_pixels=LIMIT, max_frames=44)


def tiny_frames_gif(frames: int) -> bytes:
    """A GIF of ``frames`` 1x1 frames, written byte by byte (the smallest a frame can be)."""
    screen = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    # An image descriptor, then LZW data of minimum code size 2: clear, pixel 0, end.
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame * frames + b"\x3b"


def test_frames_are_counted_as_pillow_counts_them_and_no_further() -> None:
    data = (CORPUS / EARTH).read_bytes()
    assert pipeline.frames_up_to(Image.open(io.BytesIO(data)), 1000) == 44
    assert pipeline.frames_up_to(Image.open(io.BytesIO(data)), 10) == 10
    counted = Image.open(io.BytesIO(data))
    pipeline.frames_up_to(counted, 1000)
    # Back at the first frame, whole: the frames are made from it after the count.
    assert counted.tell() == 0
    first = Image.open(io.BytesIO(data))
    assert ImageChops.difference(counted.convert("RGBA"), first.convert("RGBA")).getbbox() is None
    many = tiny_frames_gif(100_000)
    assert Image.open(io.BytesIO(tiny_frames_gif(7))).n_frames == 7  # a GIF Pillow reads
    assert pipeline.frames_up_to(Image.open(io.BytesIO(many)), 301) == 301


def test_a_gif_of_a_hundred_thousand_frames_is_refused_after_counting_past_the_limit() -> None:
    data = tiny_frames_gif(100_000)
    with pytest.raises(TooManyFrames):
        render(data, parse_query("format=webp", None, 4096), max_pixels=LIMIT, max_frames=300)
    still = render(data, parse_query("format=webp&frames=1", None, 4096), max_pixels=LIMIT)
    assert (still.frames, still.width, still.height) == (1, 1, 1)


def test_a_later_frame_cut_short_is_a_corrupt_image() -> None:
    data = (CORPUS / EARTH).read_bytes()
    cut = data[: len(data) * 3 // 4]  # within a later frame's pixels
    with pytest.raises(CorruptImage):
        render(cut, parse_query("w=50&format=webp", None, 4096), max_pixels=LIMIT)


def test_all_frames_together_count_against_the_pixel_limit() -> None:
    data = (CORPUS / EARTH).read_bytes()
    every_frame = 400 * 400 * 44
    render(data, parse_query("w=10&format=webp", None, 4096), max_pixels=every_frame)
    with pytest.raises(ImageTooLarge, match="the animation's 44 frames have more than"):
        render(data, parse_query("w=10&format=webp", None, 4096), max_pixels=every_frame - 1)
    one_frame = parse_query("w=10&format=jpeg", None, 4096)
    render(data, one_frame, max_pixels=every_frame - 1)


def test_the_time_budget_is_checked_between_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock that moves one tick each time it is read: the deadline falls among the frames."""
    data = (CORPUS / EARTH).read_bytes()
    spec = parse_query("w=50&format=webp", None, 4096)
    ticks = iter(range(10**6))
    monkeypatch.setattr(pipeline.time, "monotonic", lambda: next(ticks))
    render(data, spec, max_pixels=LIMIT, deadline=10**6)  # reads the clock once before each step
    checks = next(ticks)
    assert checks > 44 * 7  # the frame steps of every frame among them
    ticks = iter(range(10**6))
    with pytest.raises(TimeBudgetExceeded):
        render(data, spec, max_pixels=LIMIT, deadline=checks // 2)
    assert next(ticks) == checks // 2 + 2  # it stopped right there, half way through the frames


def test_format_auto_keeps_the_animation_through_the_handler(
    s3_handler: Callable[..., None],
) -> None:
    chrome = "image/avif,image/webp,image/apng,*/*;q=0.8"
    response = get(f"/images/corpus/{EARTH}?w=100&format=auto", accept=chrome)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == OUTPUT_FORMATS["avif"].mime_type
    assert getattr(decoded(response), "n_frames", 1) == 44
    still = get(f"/images/corpus/{EARTH}?w=100&format=auto&frames=1", accept=chrome)
    assert getattr(decoded(still), "n_frames", 1) == 1


def test_the_frame_limit_is_a_setting_and_the_frames_are_logged(
    s3_handler: Callable[..., None], log_lines: Callable[[], list[dict[str, object]]]
) -> None:
    s3_handler(MAX_ANIMATION_FRAMES="43")
    refused = get(f"/images/corpus/{EARTH}?w=100&format=webp")
    assert refused["statusCode"] == 413
    assert "too_many_frames" in refused["body"]
    s3_handler(MAX_ANIMATION_FRAMES="44")
    assert get(f"/images/corpus/{EARTH}?w=100&format=webp")["statusCode"] == 200
    [record] = [r for r in log_lines() if r["message"] == "request" and r["status"] == 200]
    assert record["output_frames"] == 44


def small_gif(count: int) -> bytes:
    """``count`` different 8x8 frames (identical ones would be merged by the encoder)."""
    frames = []
    for index in range(count):
        frame = Image.new("L", (8, 8), 0)
        frame.putpixel((index % 8, (index // 8) % 8), 255)
        frame.putpixel((0, 0), (index * 7) % 256)
        frames.append(frame)
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=10)


def frame_data_offsets(data: bytes) -> list[int]:
    """Where each frame's image data starts (Pillow's own tile offsets)."""
    image = Image.open(io.BytesIO(data))
    offsets = []
    for index in range(image.n_frames):
        image.seek(index)
        offsets.append(image.tile[0][2])
    return offsets


def test_a_bomb_in_a_later_frame_is_the_413_of_a_bomb_in_the_first() -> None:
    """Frame 3 claims 65535x65535 pixels: Pillow raises its DecompressionBombError on seeking
    to it, which is the source's fault like any other."""
    data = bytearray(small_gif(10))
    descriptor = data.rfind(b",", 0, frame_data_offsets(bytes(data))[3])
    data[descriptor + 5 : descriptor + 9] = struct.pack("<HH", 0xFFFF, 0xFFFF)
    with pytest.raises(ImageTooLarge):
        render(bytes(data), parse_query("w=4&format=webp", None, 4096), max_pixels=LIMIT)


def test_a_damaged_later_frame_is_a_422() -> None:
    data = bytearray(small_gif(10))
    data[frame_data_offsets(bytes(data))[6] - 1] = 0x0F  # an LZW code size no decoder takes
    with pytest.raises(CorruptImage):
        render(bytes(data), parse_query("w=4&format=webp", None, 4096), max_pixels=LIMIT)


def test_frames_are_counted_no_further_than_the_limit_and_not_for_a_still() -> None:
    """2,000 frames, the 1,500th damaged: refusing it as too long must not read that far, and
    a still must not count at all."""
    data = bytearray(small_gif(2000))
    offsets = frame_data_offsets(bytes(data))
    descriptor = data.rfind(b",", 0, offsets[1500])
    data[descriptor + 5 : descriptor + 9] = struct.pack("<HH", 0xFFFF, 0xFFFF)  # a bomb at 1500
    hostile = bytes(data)
    with pytest.raises(TooManyFrames):
        render(hostile, parse_query("format=webp", None, 4096), max_pixels=LIMIT, max_frames=300)
    for still in ("format=webp&frames=1", "format=png", "format=jpeg"):
        assert render(hostile, parse_query(still, None, 4096), max_pixels=LIMIT).frames == 1
