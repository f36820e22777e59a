"""Broken and hostile source files: a 4xx with its own code, or a correct image; never a 500.

The files are made here from the real corpus: truncations at many offsets, random byte flips,
and handcrafted bombs (text and ICC chunks that inflate past Pillow's limits, a GIF whose frame
claims far more pixels than its screen).
"""

from __future__ import annotations

import random
import struct
import zlib

import pytest

from conftest import CORPUS, CORPUS_FILES
from image_optimizer.errors import CorruptImage, ImageTooLarge, OptimizerError
from image_optimizer.formats import PNG
from image_optimizer.pipeline import render
from image_optimizer.spec import TransformSpec
from images import png_with_chunk

LIMIT = 50_000_000
SPEC = TransformSpec(width=64, output_format=PNG)


def outcome(data: bytes) -> str:
    """'ok' or the error code; anything else (an unexpected exception) fails the test."""
    try:
        render(data, SPEC, max_pixels=LIMIT)
    except OptimizerError as error:
        status, code = error.status, error.code
    else:
        return "ok"
    assert 400 <= status < 500, code
    return code


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_truncated_at_many_offsets(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    offsets = {0, 1, 3, 8, 16, 64, 200, 1000, len(data) // 4, len(data) // 2, len(data) - 1}
    codes = {outcome(data[:offset]) for offset in sorted(offsets) if offset < len(data)}
    assert codes <= {"ok", "corrupt_image", "unsupported_image"}


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_random_byte_flips(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    rng = random.Random(name)
    for _ in range(8):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 24)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        assert outcome(bytes(damaged)) in {
            "ok",
            "corrupt_image",
            "unsupported_image",
            "image_too_large",
        }


def test_a_text_chunk_that_inflates_to_50_mb() -> None:
    bomb = png_with_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * 50_000_000))
    assert len(bomb) < 100_000
    with pytest.raises(CorruptImage):
        render(bomb, SPEC, max_pixels=LIMIT)


def test_an_icc_chunk_that_inflates_to_50_mb() -> None:
    bomb = png_with_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(b"B" * 50_000_000))
    assert outcome(bomb) in {"ok", "corrupt_image"}


def test_a_gif_frame_larger_than_its_screen() -> None:
    screen = struct.pack("<HHBBB", 10, 10, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"," + struct.pack("<HHHHB", 0, 0, 20000, 20000, 0) + b"\x02\x02\x44\x01\x00"
    with pytest.raises(ImageTooLarge):
        render(b"GIF89a" + screen + frame + b";", SPEC, max_pixels=LIMIT)


def test_wrong_extension_is_judged_by_content() -> None:
    webp = (CORPUS / "tree.webp").read_bytes()
    rendition = render(webp, SPEC, max_pixels=LIMIT)  # whatever the key says, this is a WebP
    assert rendition.source_format == "WEBP"
