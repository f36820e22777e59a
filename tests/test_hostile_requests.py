"""Hostile files through the handler, in a process with a memory limit and a per-file alarm.

The files are made here: decompression bombs, a GIF frame that lies about its size, chunks that
inflate, the largest image the limit allows, truncations and byte flips of the real corpus,
and files whose extension lies. Each must be answered (no 5xx) within its time, and the process
must stay within the memory a 1769 MB function has.
"""

from __future__ import annotations

import io
import random
import zlib
from pathlib import Path

from PIL import Image

from bounded_handler import MEMORY_LIMIT_BYTES, serve_each
from conftest import CORPUS, CORPUS_FILES
from images import png_claiming_size, png_with_chunk


def make_hostile_files(folder: Path) -> None:
    rng = random.Random(7)
    (folder / "bomb-100k-squared.png").write_bytes(png_claiming_size(100_000, 100_000))
    zeros = io.BytesIO()
    Image.new("L", (7000, 7000)).save(zeros, "PNG")  # 49 MP: the largest the limit admits
    (folder / "largest-allowed.png").write_bytes(zeros.getvalue())
    screen = b"GIF89a" + bytes([10, 0, 10, 0, 0x80, 0, 0]) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"," + bytes([0, 0, 0, 0, 0x20, 0x4E, 0x20, 0x4E, 0]) + b"\x02\x02\x44\x01\x00;"
    (folder / "gif-frame-lies.gif").write_bytes(screen + frame)
    ztxt = b"Comment\x00\x00" + zlib.compress(b"A" * 50_000_000)
    (folder / "ztxt-bomb.png").write_bytes(png_with_chunk(b"zTXt", ztxt))
    (folder / "png-named.jpg").write_bytes((CORPUS / "alpha-3mp.png").read_bytes())
    (folder / "text-named.png").write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    (folder / "empty.jpg").write_bytes(b"")
    for name in CORPUS_FILES:
        data = (CORPUS / name).read_bytes()
        (folder / f"cut-{name}").write_bytes(data[: len(data) // 3])
        flipped = bytearray(data)
        for _ in range(30):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        (folder / f"flipped-{name}").write_bytes(bytes(flipped))


def test_hostile_files_under_a_memory_and_time_limit(tmp_path: Path) -> None:
    folder = tmp_path / "hostile"
    folder.mkdir()
    make_hostile_files(folder)
    report = serve_each(folder, ("w=300&format=webp", "w=64&h=64&format=avif", "format=png"))
    statuses = report.statuses
    assert len(statuses) == 3 * len(list(folder.iterdir()))
    failures = {r: s for r, s in statuses.items() if s == "timeout" or int(s) >= 500}
    assert not failures, failures
    assert statuses["bomb-100k-squared.png?w=300&format=webp"] == 413
    assert statuses["gif-frame-lies.gif?w=300&format=webp"] == 413
    assert statuses["ztxt-bomb.png?w=300&format=webp"] == 422
    assert statuses["largest-allowed.png?w=300&format=webp"] == 200
    assert statuses["png-named.jpg?w=300&format=webp"] == 200
    assert statuses["text-named.png?w=300&format=webp"] == 415
    assert report.peak_rss < MEMORY_LIMIT_BYTES
