"""Hostile files through the handler, in a process with a memory limit and a per-file alarm.

The files are made here: decompression bombs, a GIF frame that lies about its size, chunks that
inflate, the largest image the limit allows, truncations and byte flips of the real corpus,
and files whose extension lies. Each must be answered (no 5xx) within its time, and the process
must stay within the memory a 1769 MB function has.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import zlib
from pathlib import Path

from PIL import Image

from conftest import CORPUS, CORPUS_FILES
from images import png_claiming_size
from test_hostile_sources import png_with_chunk

MEMORY_LIMIT_BYTES = 1769 * 1024 * 1024
SECONDS_PER_FILE = 20

WORKER = """
import json, os, resource, signal, sys, time
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
from image_optimizer.app import lambda_handler
from image_optimizer_cli.lambda_events import LocalContext, function_url_event

class OutOfTime(Exception):
    pass

def alarm(*_):
    raise OutOfTime()

signal.signal(signal.SIGALRM, alarm)
results = {}
for name in sorted(os.listdir(sys.argv[1])):
    for query in ("w=300&format=webp", "w=64&h=64&format=avif", "format=png"):
        signal.alarm(int(sys.argv[3]))
        started = time.monotonic()
        try:
            event = function_url_event("GET", f"/images/{name}?{query}", [])
            status = lambda_handler(event, LocalContext())["statusCode"]
        except OutOfTime:
            status = "timeout"
        finally:
            signal.alarm(0)
        results[f"{name}?{query}"] = [status, round(time.monotonic() - started, 2)]
# VmHWM, not ru_maxrss: a child inherits its parent's ru_maxrss across fork and exec.
peak = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
print(json.dumps({"results": results, "peak_rss": peak}))
"""


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
    result = subprocess.run(
        [sys.executable, "-c", WORKER, folder, str(MEMORY_LIMIT_BYTES), str(SECONDS_PER_FILE)],
        env={"SOURCE_DIR": str(folder), "PATH": "/usr/bin:/bin", "POWERTOOLS_LOG_LEVEL": "ERROR"},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    statuses = {request: answer[0] for request, answer in report["results"].items()}
    assert len(statuses) == 3 * len(list(folder.iterdir()))
    failures = {r: s for r, s in statuses.items() if s == "timeout" or s >= 500}
    assert not failures, failures
    assert statuses["bomb-100k-squared.png?w=300&format=webp"] == 413
    assert statuses["gif-frame-lies.gif?w=300&format=webp"] == 413
    assert statuses["ztxt-bomb.png?w=300&format=webp"] == 422
    assert statuses["largest-allowed.png?w=300&format=webp"] == 200
    assert statuses["png-named.jpg?w=300&format=webp"] == 200
    assert statuses["text-named.png?w=300&format=webp"] == 415
    assert report["peak_rss"] < MEMORY_LIMIT_BYTES
