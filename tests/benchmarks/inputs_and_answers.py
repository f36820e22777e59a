"""Benchmark: HEIC sources, and format=json's facts, beside what a reader would compare them with.

Run with `make bench` (pinned to one core), or alone:
``taskset -c 0 .venv/bin/python tests/benchmarks/inputs_and_answers.py``.

1. HEIC: the corpus' iPhone HEIC (12 MP) to a 400 px JPEG, ours; the same picture saved as a
   JPEG (quality 90) to a 400 px JPEG, ours and libvips'; and whether libvips and sharp here
   read the HEIC at all (their builds need libde265 for HEVC; pyvips' libvips on Debian and
   sharp's prebuilt one have none, which is said rather than assumed).
2. format=json on several sources, beside making a 400 px WebP of the same source: what a page
   pays for its placeholder against what it pays for the image.

Median of ROUNDS after a warm-up; the jobs of a row alternate round by round.
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("VIPS_CONCURRENCY", "1")

import pyvips
from PIL import Image
from pillow_heif import register_heif_opener

from image_optimizer.facts import describe
from image_optimizer.formats import JPEG, WEBP
from image_optimizer.pipeline import render
from image_optimizer.spec import TransformSpec

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus"
NODE = Path(__file__).resolve().parent / "cold_start" / "node"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
HEIC = CORPUS / "heic-iphone-turned-icc.heic"
LIMIT = 10**9


def medians(jobs: dict[str, Callable[[], object]]) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for job in jobs.values():
        job()  # warm-up
    for _ in range(ROUNDS):
        for name, job in jobs.items():
            started = time.perf_counter()
            job()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def _answer(error: str) -> str:
    if "HEVC" in error:
        return "no (its libheif has no HEVC decoder)"
    return f"no ({error.strip()[:60]})"


def vips_reads(path: Path) -> str:
    try:
        pyvips.Image.thumbnail(str(path), 400).write_to_buffer(".jpg")
    except pyvips.Error as error:
        return _answer(str(error))
    return "yes"


def sharp_reads(path: Path) -> str:
    if not (NODE / "node_modules" / "sharp").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=NODE, check=True)
    script = (
        "require('sharp')(process.argv[1]).resize(400).jpeg().toBuffer()"
        ".then(() => console.log('yes')).catch((e) => console.log(JSON.stringify(e.message)))"
    )
    result = subprocess.run(
        ["node", "-e", script, str(path)], cwd=NODE, capture_output=True, text=True, timeout=60
    )
    answer = result.stdout.strip().splitlines()[-1]
    return "yes" if answer == "yes" else _answer(answer)


def heic_table() -> list[str]:
    register_heif_opener()  # for the JPEG copy below; the service registers it by itself
    heic = HEIC.read_bytes()
    buffer = io.BytesIO()
    Image.open(HEIC).save(buffer, "JPEG", quality=90)
    jpeg = buffer.getvalue()
    spec = TransformSpec(width=400, output_format=JPEG)
    times = medians(
        {
            "ours, HEIC": lambda: render(heic, spec, max_pixels=LIMIT),
            "ours, the same as JPEG": lambda: render(jpeg, spec, max_pixels=LIMIT),
            "libvips, the same as JPEG": lambda: pyvips.Image.thumbnail_buffer(
                jpeg, 400
            ).write_to_buffer(".jpg[Q=80,optimize_coding]"),
        }
    )
    lines = [
        f"HEIC: {HEIC.name} (12 MP, {len(heic) // 1024} KB) -> 400 px JPEG, median of {ROUNDS}",
        f"{'job':<28}{'ms':>8}",
    ]
    lines += [f"{name:<28}{ms:>8.1f}" for name, ms in times.items()]
    lines.append(f"libvips reads the HEIC: {vips_reads(HEIC)}")
    lines.append(f"sharp reads the HEIC: {sharp_reads(HEIC)}")
    return lines


def facts_table() -> list[str]:
    names = ["phone-12mp-orient6-icc.jpg", HEIC.name, "alpha-3mp.png", "animated-earth.gif"]
    lines = [
        f"format=json beside a 400 px WebP of the same source, median of {ROUNDS}",
        f"{'source':<30}{'json ms':>9}{'webp ms':>9}{'json/webp':>10}{'json bytes':>11}",
    ]
    for name in names:
        data = (CORPUS / name).read_bytes()
        spec = TransformSpec(width=400, output_format=WEBP, still=True)
        times = medians(
            {
                "json": lambda data=data: describe(data, max_pixels=LIMIT, max_frames=300),
                "webp": lambda data=data, spec=spec: render(data, spec, max_pixels=LIMIT),
            }
        )
        size = len(describe(data, max_pixels=LIMIT, max_frames=300).body)
        lines.append(
            f"{name:<30}{times['json']:>9.1f}{times['webp']:>9.1f}"
            f"{times['json'] / times['webp']:>10.2f}{size:>11}"
        )
    return lines


def main() -> int:
    print("\n".join(heic_table()))
    print()
    print("\n".join(facts_table()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
