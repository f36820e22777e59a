"""Reading the orientation from metadata alone: no pixel is decoded, wherever the EXIF sits."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageOps

from image_optimizer import orientation
from image_optimizer.errors import CorruptImage
from image_optimizer.formats import PNG
from image_optimizer.pipeline import render
from image_optimizer.spec import TransformSpec
from images import ORIENTATION, decode, encode, gradient, psnr


def opened_without_decoding(data: bytes) -> Image.Image:
    """The image, opened, with any attempt to decode its pixels failing the test."""
    image = Image.open(io.BytesIO(data))

    def load() -> None:
        raise AssertionError("the pixels were decoded to read the orientation")

    image.load = load  # type: ignore[method-assign,assignment]
    return image


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    found, position = [], 8
    while position < len(png):
        (length,) = struct.unpack_from(">I", png, position)
        kind = png[position + 4 : position + 8]
        found.append((kind, png[position + 8 : position + 8 + length]))
        position += 12 + length
    return found


def assemble(parts: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        for kind, data in parts
    )
    return b"\x89PNG\r\n\x1a\n" + body


def png_with_exif_after_the_pixels(image: Image.Image, value: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = value
    parts = chunks(encode(image, "PNG", exif=exif.tobytes()))
    [exif_chunk] = [part for part in parts if part[0] == b"eXIf"]
    rest = [part for part in parts if part[0] != b"eXIf"]
    return assemble([*rest[:-1], exif_chunk, rest[-1]])  # eXIf between the last IDAT and IEND


def test_an_exif_chunk_after_the_pixels_is_found_without_decoding_them() -> None:
    data = png_with_exif_after_the_pixels(gradient(), 6)
    assert [kind for kind, _ in chunks(data)] == [b"IHDR", b"IDAT", b"eXIf", b"IEND"]
    assert orientation.read(opened_without_decoding(data), data) == 6


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "AVIF"])
def test_every_format_reads_its_orientation_without_decoding(fmt: str) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 8
    data = encode(gradient(), fmt, exif=exif.tobytes())
    assert orientation.read(opened_without_decoding(data), data) == 8


def test_a_png_oriented_by_a_late_exif_chunk_is_shown_upright() -> None:
    upright = gradient((300, 200))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what orientation 6 turns back
    data = png_with_exif_after_the_pixels(stored, 6)
    result = decode(render(data, TransformSpec(output_format=PNG), max_pixels=10**9).body)
    assert result.size == upright.size
    assert psnr(result, upright) > 40


def test_a_png_damaged_inside_its_pixels_is_corrupt_not_half_decoded() -> None:
    """The bug this module's reader fixes: Pillow's PNG getexif() decoded the pixels, the
    decoder's error was swallowed there, and the later load() did not decode them again."""
    data = bytearray(encode(gradient((600, 400)), "PNG"))
    parts = chunks(bytes(data))
    idat_start = bytes(data).index(b"IDAT") + 4
    data[idat_start + len(parts[1][1]) // 2] ^= 0x55
    with pytest.raises(CorruptImage):
        render(bytes(data), TransformSpec(width=100, output_format=PNG), max_pixels=10**9)


def test_exif_that_does_not_parse_is_no_orientation() -> None:
    data = encode(gradient(), "JPEG", exif=b"Exif\x00\x00MM\x00*\xff\xff\xff\xff")
    with pytest.warns(UserWarning, match="Corrupt EXIF"):  # Pillow's own word on it
        assert orientation.read(opened_without_decoding(data), data) == 1


@pytest.mark.parametrize("code", range(1, 9))
def test_where_the_displayed_rows_and_columns_start(code: int) -> None:
    """Found independently: the stored pixel that EXIF's own transpose puts at the top left."""
    stored = Image.new("L", (2, 2))
    stored.putdata([0, 1, 2, 3])  # x + 2y
    exif = Image.Exif()
    exif[0x0112] = code
    stored.info["exif"] = exif.tobytes()
    shown = ImageOps.exif_transpose(stored)
    assert shown is not None
    first = shown.getpixel((0, 0))
    assert isinstance(first, int)
    assert orientation.starts_at_far_edges(code) == (first % 2 == 1, first // 2 == 1)
