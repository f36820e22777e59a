"""Benchmark: each everyday edit, ours beside sharp's same operation, on the corpus' photos.

Run with `make bench` (pinned to one core), or alone:
``taskset -c 0 .venv/bin/python tests/benchmarks/edits.py``. Every job is a photo to an 800 px
JPEG at quality 80 with one edit (rotate, flip, grayscale, blur, sharpen, a background under
alpha, a watermark), bytes in -> bytes out, median of ROUNDS after a warm-up, the two sides
alternating round by round (sharp 0.35 in a Node process, timed inside it, one thread). Each
output is scored against a reference made here the slow, careful way (full decode, the edit on
the full picture or after one LANCZOS resize, as the edit is defined), with SSIM and
SSIMULACRA2; the bytes of both are shown (same encoder settings). ``ours/sharp`` under 1 is
faster than sharp.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps
from scipy.ndimage import gaussian_filter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import ssim, ssimulacra2
from sharp_peer import Sharp

from image_optimizer.overlay import decoded
from image_optimizer.pipeline import render
from image_optimizer.request import parse_query
from image_optimizer.watermarks import Watermark

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
WIDTH = 800
PHOTO = CORPUS / "flickr-6mp.jpg"
ALPHA = CORPUS / "alpha-3mp.png"
BACKGROUND = (0x33, 0x66, 0x99)
MARK = Watermark(name="logo", key="logo.png", width=0.25, margin=0.02)


@dataclass(frozen=True)
class Job:
    name: str
    source: Path
    query: str
    reference: Callable[[Image.Image], Image.Image]  # the full, upright source -> expected


def _resized(image: Image.Image, width: int = WIDTH) -> Image.Image:
    height = round(image.height * width / image.width)
    return image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)


def _per_channel(image: Image.Image, change: Callable[[np.ndarray], np.ndarray]) -> Image.Image:
    planes = np.asarray(image, dtype=np.float64)
    out = np.stack([change(planes[..., c]) for c in range(planes.shape[2])], axis=2)
    return Image.fromarray(np.clip(np.round(out), 0, 255).astype(np.uint8), "RGB")


def _unsharp(plane: np.ndarray) -> np.ndarray:
    return plane + (plane - gaussian_filter(plane, 1.0, mode="nearest"))


def _on_background(image: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", image.size, BACKGROUND)
    canvas.paste(image, mask=image.getchannel("A"))
    return canvas


def _watermarked(image: Image.Image, logo: Image.Image) -> Image.Image:
    base = _resized(image)
    placed = decoded(_png(logo), MARK, 10**9).placed(base.size)
    assert placed is not None
    base.paste(placed.picture, placed.offset, placed.picture)
    return base


def logo_picture() -> Image.Image:
    """A 600x180 badge with soft edges and colour: what a brand's logo looks like."""
    rng = np.random.default_rng(5)
    picture = Image.new("RGBA", (600, 180), (0, 0, 0, 0))
    colours = Image.fromarray(rng.integers(0, 256, (180, 600, 3), dtype=np.uint8), "RGB")
    colours = colours.filter(ImageFilter.GaussianBlur(6))
    mask = Image.new("L", (600, 180), 0)
    mask.paste(220, (20, 20, 580, 160))
    picture.paste(colours, mask=mask.filter(ImageFilter.GaussianBlur(8)))
    return picture


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def jobs(logo: Image.Image) -> list[Job]:
    return [
        Job("resize only", PHOTO, "", _resized),
        Job("rotate=90", PHOTO, "rotate=90",
            lambda i: _resized(i.transpose(Image.Transpose.ROTATE_270))),
        Job("flip=h", PHOTO, "flip=h",
            lambda i: _resized(i.transpose(Image.Transpose.FLIP_LEFT_RIGHT))),
        Job("grayscale=1", PHOTO, "grayscale=1", lambda i: _resized(i).convert("L")),
        Job("blur=2", PHOTO, "blur=2",
            lambda i: _per_channel(_resized(i), lambda p: gaussian_filter(p, 2.0, mode="nearest"))),
        Job("sharpen=1", PHOTO, "sharpen=1", lambda i: _per_channel(_resized(i), _unsharp)),
        Job("bg=336699 (alpha png)", ALPHA, "bg=336699",
            lambda i: _resized(_on_background(i.convert("RGBA")))),
        Job("watermark", PHOTO, "watermark=logo", lambda i: _watermarked(i, logo)),
    ]  # fmt: skip


SHARP_JOB = {
    "resize only": "resize", "rotate=90": "rotate", "flip=h": "flip", "grayscale=1": "grayscale",
    "blur=2": "blur", "sharpen=1": "sharpen", "bg=336699 (alpha png)": "bg",
    "watermark": "watermark",
}  # fmt: skip


def main() -> int:
    logo = logo_picture()
    logo_path = Path(os.environ.get("TMPDIR", "/tmp")) / "image-optimizer-bench-logo.png"
    logo_path.write_bytes(_png(logo))
    overlay = decoded(_png(logo), MARK, 10**9)  # read once per container
    sharp = Sharp()
    print(
        f"edits benchmark: photo -> {WIDTH} px JPEG q80, median of {ROUNDS} after a warm-up, "
        "one core, bytes in -> bytes out"
    )
    header = (
        f"{'job':<24}{'ours ms':>9}{'sharp ms':>10}{'ours/sharp':>11}{'KB ours':>9}"
        f"{'KB sharp':>9}{'SSIM ours':>10}{'SSIM sharp':>11}{'S2 ours':>9}{'S2 sharp':>9}"
    )
    print(header)
    ratios = []
    try:
        # The process's first few renders run ~25% slower, whichever job comes first: a few of
        # every job, untimed, so that the first row is measured like the others.
        for job in jobs(logo):
            for _ in range(3):
                data = job.source.read_bytes()
                query = f"w={WIDTH}&format=jpeg&{job.query}".rstrip("&")
                spec = parse_query(query, None, 4096, {"watermark": frozenset({"logo"})})
                render(data, spec, max_pixels=10**9, overlays=[overlay] if spec.watermark else [])
        for job in jobs(logo):
            data = job.source.read_bytes()
            spec = parse_query(
                f"w={WIDTH}&format=jpeg&{job.query}".rstrip("&"),
                None,
                4096,
                {"watermark": frozenset({"logo"})},
            )
            overlays = [overlay] if spec.watermark else []

            def ours(data: bytes = data, spec: object = spec, overlays: list = overlays) -> bytes:
                return render(data, spec, max_pixels=10**9, overlays=overlays).body  # type: ignore[arg-type]

            body = ours()
            size = Image.open(io.BytesIO(body)).size
            placed = overlay.placed(size)
            assert placed is not None
            placement = (placed.picture.width, *placed.offset)
            request = {
                "job": SHARP_JOB[job.name], "input": str(job.source), "width": WIDTH,
                "logo": str(logo_path), "markWidth": placement[0], "left": placement[1],
                "top": placement[2],
            }  # fmt: skip
            sharp.run(**request)  # warm-up
            ours_ms, sharp_ms = [], []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                ours()
                ours_ms.append((time.perf_counter() - started) * 1000)
                milliseconds, peer = sharp.run(**request)
                sharp_ms.append(milliseconds)
            source = ImageOps.exif_transpose(Image.open(job.source))
            assert source is not None
            wanted = job.reference(source).convert("RGB")
            scores = []
            for output in (body, peer):
                image = Image.open(io.BytesIO(output)).convert("RGB")
                assert image.size == wanted.size, (job.name, image.size, wanted.size)
                scores.append((ssim(image, wanted), ssimulacra2(wanted, image)))
            ours_median, sharp_median = statistics.median(ours_ms), statistics.median(sharp_ms)
            ratios.append(ours_median / sharp_median)
            print(
                f"{job.name:<24}{ours_median:>9.1f}{sharp_median:>10.1f}"
                f"{ours_median / sharp_median:>11.2f}{len(body) / 1024:>9.1f}"
                f"{len(peer) / 1024:>9.1f}{scores[0][0]:>10.4f}{scores[1][0]:>11.4f}"
                f"{scores[0][1]:>9.2f}{scores[1][1]:>9.2f}"
            )
    finally:
        sharp.close()
    geomean = float(np.exp(np.mean(np.log(ratios))))
    print(f"geometric mean ours/sharp: {geomean:.2f}; worst {max(ratios):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
