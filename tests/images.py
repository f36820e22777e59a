"""Images made in the tests: encoded bytes with exactly the properties a test needs."""

from __future__ import annotations

import io
import math
import struct
import zlib
from typing import Any

from PIL import Image, ImageChops, ImageStat

ORIENTATION = 0x0112


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def gradient(size: tuple[int, int] = (300, 200), mode: str = "RGB") -> Image.Image:
    """An asymmetric picture: every pixel tells where it is, so flips and shifts show."""
    width, height = size
    red = Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90).resize(size)
    green = Image.linear_gradient("L").resize(size)
    blue = Image.new("L", size, 0)
    blue.paste(255, (0, 0, width // 6, height // 6))
    return Image.merge("RGB", (red, green, blue)).convert(mode)


def with_orientation(image: Image.Image, orientation: int, fmt: str = "JPEG") -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return encode(image, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))


def psnr(first: Image.Image, second: Image.Image) -> float:
    difference = ImageChops.difference(first.convert("RGB"), second.convert("RGB"))
    squares = ImageStat.Stat(difference.point(lambda value: value * value)).mean
    mse = sum(squares) / len(squares)
    return math.inf if mse == 0 else 10 * math.log10(255 * 255 / mse)


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height: a decompression bomb's calling card."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data = zlib.compress(b"\x00" * 16)
    idat = b"IDAT" + data
    idat_chunk = struct.pack(">I", len(data)) + idat + struct.pack(">I", zlib.crc32(idat))
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat_chunk + iend


def grey_icc_profile(gamma: float) -> bytes:
    """A minimal ICC v2 grey display profile (description, white point, one gamma curve)."""

    def s15fixed16(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    d50 = s15fixed16(0.9642) + s15fixed16(1.0) + s15fixed16(0.8249)
    name = b"Grey, gamma %.1f" % gamma
    # textDescriptionType: the ASCII name, then empty Unicode and ScriptCode parts.
    desc = b"desc" + bytes(4) + struct.pack(">I", len(name) + 1) + name + bytes(1 + 8 + 3 + 67)
    tags = [
        (b"desc", desc),
        (b"wtpt", b"XYZ " + bytes(4) + d50),
        (b"kTRC", b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256))),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table = data = b""
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (
        struct.pack(">I", offset + len(data)) + b"lcms" + bytes([2, 0x10, 0, 0])
        + b"mntr" + b"GRAY" + b"XYZ " + bytes(12) + b"acsp" + bytes(24) + bytes(4)
        + d50 + bytes(48)
    )  # fmt: skip
    return header + struct.pack(">I", len(tags)) + table + data


def png_with_chunk(kind: bytes, payload: bytes) -> bytes:
    """An 8x8 PNG with a chunk of ``kind`` and ``payload`` right after its header."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    png = buffer.getvalue()
    body = kind + payload
    chunk = struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))
    return png[:33] + chunk + png[33:]  # right after IHDR
