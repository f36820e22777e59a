"""Every test image, truncated and damaged inside its compressed data, through the handler.

The property, against Pillow's own strict decode of the same bytes as the oracle:
- when Pillow cannot decode the mutated file, the answer is a 4xx (never a 200 with a partly
  decoded picture, which CloudFront would keep for a day, and never a 5xx);
- when Pillow can, the answer is a 200 or a 4xx;
- every answer comes within the time a request has, and the process within a function's memory.

The mutations are seeded: a failure names the file and the mutation, and the same run makes the
same bytes. Each corpus file gets TRUNCATIONS cuts and FLIPS damaged bytes in its encoded pixels.
"""

from __future__ import annotations

import io
import random
import struct
from pathlib import Path

from PIL import Image

from bounded_handler import MEMORY_LIMIT_BYTES, serve_each
from conftest import CORPUS, CORPUS_FILES

SEED = 20261130
TRUNCATIONS = 12
FLIPS = 18
QUERY = "w=64&format=png"


def encoded_pixels(data: bytes) -> tuple[int, int]:
    """Where the compressed image data lies, so that damage there reaches the decoder rather
    than the header parser (which the truncations and the older hostile tests exercise)."""
    if data.startswith(b"\xff\xd8"):  # JPEG: the entropy-coded data after the first scan header
        return data.index(b"\xff\xda") + 4, len(data) - 2
    if data.startswith(b"\x89PNG"):  # from the first IDAT's data to the IEND chunk
        return data.index(b"IDAT") + 4, data.rindex(b"IEND") - 4
    if data.startswith(b"RIFF"):  # WebP: past the RIFF header and the first chunk's header
        return 30, len(data)
    if data[4:8] == b"ftyp":  # AVIF and HEIF: inside the media data box
        return media_data(data)
    if data.startswith(b"GIF"):  # from the first frame's LZW data to the trailer
        tile = Image.open(io.BytesIO(data)).tile[0]
        return tile.offset, len(data) - 1
    raise AssertionError("a corpus file of a format this test does not know")


def media_data(data: bytes) -> tuple[int, int]:
    """Where an ISO base media file's top-level ``mdat`` box keeps its data, found by walking
    the boxes (a 32-bit size, a 64-bit one when that is 1, or to the end when it is 0)."""
    position = 0
    while position + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, position + 8)
            header = 16
        elif size == 0:
            size = len(data) - position
        if kind == b"mdat":
            return position + header, position + size
        position += size
    raise AssertionError("no mdat box")


def mutations(name: str, data: bytes) -> dict[str, bytes]:
    rng = random.Random(f"{SEED}:{name}")
    start, end = encoded_pixels(data)
    cases = {}
    for _ in range(TRUNCATIONS):
        cut = rng.randrange(1, len(data))
        cases[f"cut{cut}"] = data[:cut]
    for _ in range(FLIPS):
        damaged = bytearray(data)
        positions = [rng.randrange(start, end) for _ in range(rng.randint(1, 4))]
        for position in positions:
            damaged[position] ^= rng.randrange(1, 256)
        cases[f"flip{'-'.join(map(str, positions))}"] = bytes(damaged)
    return cases


def pillow_decodes(data: bytes) -> bool:
    """Pillow's strict verdict: open and decode the (first) picture, truncated images refused."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except Exception:
        return False
    return True


def test_a_mutated_image_is_never_half_decoded_and_never_a_5xx(tmp_path: Path) -> None:
    folder = tmp_path / "mutated"
    folder.mkdir()
    decodable = {}
    for name in CORPUS_FILES:
        stem, suffix = name.rsplit(".", 1)
        for label, mutated in mutations(name, (CORPUS / name).read_bytes()).items():
            file = f"{stem}.{label}.{suffix}"
            (folder / file).write_bytes(mutated)
            decodable[file] = pillow_decodes(mutated)
    assert len(decodable) == len(CORPUS_FILES) * (TRUNCATIONS + FLIPS)

    report = serve_each(folder, [QUERY])

    answers = {
        request.removesuffix(f"?{QUERY}"): status for request, status in report.statuses.items()
    }
    assert answers.keys() == decodable.keys()
    wrong = {
        file: status
        for file, status in answers.items()
        if status == "timeout" or int(status) >= 500 or (int(status) == 200 and not decodable[file])
    }
    assert not wrong, f"answers that break the property (file: status): {wrong}"
    assert report.peak_rss < MEMORY_LIMIT_BYTES
    # The cases must exercise both sides of the oracle, or the property proves little.
    assert 0.2 < sum(decodable.values()) / len(decodable) < 0.8
