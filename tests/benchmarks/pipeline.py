"""Benchmark: our pipeline against a naive Pillow pipeline and libvips' thumbnail, side by side.

Run with `make bench` (pinned to one core). For each job (6, 12 and 24 MP JPEG photos and a 3 MP
RGBA PNG; 400 and 1200 px wide; JPEG, WebP, AVIF) it times bytes in -> bytes out, median of
ROUNDS after a warm-up, the three pipelines interleaved, with matched encoder settings, and
scores each output against a careful reference (full decode, EXIF orientation, one LANCZOS
resize) with two scores: SSIM on luma, and SSIMULACRA2 (libjxl's perceptual metric, 100 for
identical, 90 visually lossless, 70 high quality). Then: what the jobs would cost on Lambda and
the peak memory of the largest job. (A new container's first request is cold_start/'s table.)
"""

from __future__ import annotations

import io
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("VIPS_CONCURRENCY", "1")  # one core, as the table says

import numpy as np
import PIL
import pyvips
from PIL import Image, ImageOps
from sharp_peer import Sharp
from ssimulacra2 import compute_ssimulacra2

from image_optimizer.formats import AVIF, JPEG, WEBP, OutputFormat
from image_optimizer.pipeline import render
from image_optimizer.spec import TransformSpec

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
WIDTHS = (400, 1200)
LAMBDA_MEMORY_MB = 1769  # one full vCPU: the template's default, and what a CPU-bound job wants
LAMBDA_ARM64_USD_PER_GB_SECOND = 0.0000133334  # us-east-1
LAMBDA_USD_PER_MILLION_REQUESTS = 0.20
FORMATS = (JPEG, WEBP, AVIF)
# libvips' savers with the settings of our format table (AVIF: libavif speed 8 is effort 1).
VIPS_SAVE = {
    "jpeg": ".jpg[Q=80,optimize_coding{keep}]",
    "webp": ".webp[Q=80,effort=4{keep}]",
    "avif": ".avif[Q=50,effort=1,compression=av1{keep}]",
}
# Only the ICC profile leaves, as with our pipeline. libvips 8.15 says so with `keep=icc`; older
# ones (Debian 12 has 8.14, which pip builds pyvips against when libvips-dev is installed) have
# only `strip`, which drops the profile too, so there the other metadata is removed from the
# image instead (libvips still writes a ~200-byte EXIF block of resolution fields).
VIPS_KEEPS_ONLY_ICC = bool(pyvips.at_least_libvips(8, 15))
_VIPS_METADATA_PREFIXES = ("exif-", "xmp-", "iptc-", "jpeg-thumbnail-", "orientation")

Pipeline = Callable[[bytes, int, OutputFormat], bytes]
Result = tuple[float, int, float, float]  # median ms, output bytes, SSIM, SSIMULACRA2


def ours(data: bytes, width: int, output: OutputFormat) -> bytes:
    return render(data, TransformSpec(width=width, output_format=output), max_pixels=10**9).body


def naive(data: bytes, width: int, output: OutputFormat) -> bytes:
    """What a first attempt looks like: decode everything, one LANCZOS resize, save."""
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    assert image is not None
    image = image.convert("RGBA" if "A" in image.mode and output.has_alpha else "RGB")
    height = round(image.height * width / image.width)
    image = image.resize((width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, output.pillow_format, **output.save_options(None))
    return buffer.getvalue()


def vips(data: bytes, width: int, output: OutputFormat) -> bytes:
    image = pyvips.Image.thumbnail_buffer(data, width, height=100_000)
    if image.hasalpha() and not output.has_alpha:
        image = image.flatten(background=255)
    if VIPS_KEEPS_ONLY_ICC:
        result: bytes = image.write_to_buffer(VIPS_SAVE[output.name].format(keep=",keep=icc"))
    else:
        result = _icc_only(image).write_to_buffer(VIPS_SAVE[output.name].format(keep=""))
    return result


def _icc_only(image: pyvips.Image) -> pyvips.Image:
    """The image without the metadata our pipeline strips (EXIF, XMP, IPTC), for old libvips."""
    kept = image.copy()
    for name in image.get_fields():
        if name.startswith(_VIPS_METADATA_PREFIXES):
            kept.remove(name)
    return kept


PIPELINES: dict[str, Pipeline] = {"ours": ours, "naive": naive, "vips": vips}


def sources(folder: Path) -> dict[str, Path]:
    return {
        "6MP jpeg": CORPUS / "flickr-6mp.jpg",
        "12MP jpeg (orient 6)": CORPUS / "phone-12mp-orient6-icc.jpg",
        "24MP jpeg": large_photo(folder),
        "3MP png rgba": CORPUS / "alpha-3mp.png",
    }


def large_photo(folder: Path) -> Path:
    """A 24 MP JPEG (6000x4000, upscaled from the corpus' 6 MP photo), made once."""
    large = folder / "generated-24mp.jpg"
    if not large.exists():
        photo = Image.open(CORPUS / "flickr-6mp.jpg")
        photo.resize((6000, 4000), Image.Resampling.LANCZOS).save(large, "JPEG", quality=90)
    return large


def reference(data: bytes, size: tuple[int, int]) -> Image.Image:
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    assert image is not None
    return _on_white(image).resize(size, Image.Resampling.LANCZOS)


def _on_white(image: Image.Image) -> Image.Image:
    if "A" in image.mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def ssimulacra2(original: Image.Image, distorted: Image.Image) -> float:
    def as_png(image: Image.Image) -> io.BytesIO:  # the port reads files
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=0)
        buffer.seek(0)
        return buffer

    return float(compute_ssimulacra2(as_png(original), as_png(distorted)))


def ssim(first: Image.Image, second: Image.Image, window: int = 8) -> float:
    """Mean SSIM of the luma planes over uniform windows (computed with summed-area tables)."""
    x = np.asarray(first.convert("L"), dtype=np.float64)
    y = np.asarray(second.convert("L"), dtype=np.float64)

    def local_mean(plane: np.ndarray) -> np.ndarray:
        table = np.pad(plane.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        sums = table[window:, window:] - table[:-window, window:] - table[window:, :-window]
        return (sums + table[:-window, :-window]) / (window * window)

    mx, my = local_mean(x), local_mean(y)
    vx = local_mean(x * x) - mx * mx
    vy = local_mean(y * y) - my * my
    cov = local_mean(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    score = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(score.mean())


def run_job(source: Path, width: int, output: OutputFormat, sharp: Sharp) -> dict[str, Result]:
    """Each pipeline, and sharp (timed inside Node), on one job: interleaved, rotated."""
    data = source.read_bytes()
    job = {"job": "resize", "input": str(source), "width": width, "output": output.name}

    def timed(name: str) -> tuple[float, bytes]:
        if name == "sharp":
            return sharp.run(**job)
        started = time.perf_counter()
        body = PIPELINES[name](data, width, output)
        return (time.perf_counter() - started) * 1000, body

    names = [*PIPELINES, "sharp"]
    outputs = {name: timed(name)[1] for name in names}  # and a warm-up
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(ROUNDS):
        turn = round_number % len(names)
        for name in names[turn:] + names[:turn]:
            times[name].append(timed(name)[0])
    results = {}
    for name, body in outputs.items():
        image = _on_white(Image.open(io.BytesIO(body)))
        wanted = reference(data, image.size)
        scores = ssim(image, wanted), ssimulacra2(wanted, image)
        results[name] = (statistics.median(times[name]), len(body), *scores)
    return results


def cost_per_million(milliseconds: float) -> float:
    gigabyte_seconds = LAMBDA_MEMORY_MB / 1024 * milliseconds / 1000
    return gigabyte_seconds * LAMBDA_ARM64_USD_PER_GB_SECOND * 1e6 + LAMBDA_USD_PER_MILLION_REQUESTS


def peak_memory_mb(path: Path, width: int, output: OutputFormat) -> float:
    code = (
        "import sys\n"
        "from image_optimizer.pipeline import render\n"
        "from image_optimizer.spec import TransformSpec\n"
        "from image_optimizer.formats import OUTPUT_FORMATS\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "spec = TransformSpec(width=int(sys.argv[2]), output_format=OUTPUT_FORMATS[sys.argv[3]])\n"
        "render(data, spec, max_pixels=10**9)\n"
        # VmHWM, not ru_maxrss: a child inherits its parent's ru_maxrss across fork and exec.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(int(hwm.split()[1]) / 1024)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path), str(width), output.name],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(result.stdout)


def scratch_folder() -> Path:
    folder = Path(tempfile.gettempdir()) / "image-optimizer-bench"
    folder.mkdir(exist_ok=True)
    return folder


def main() -> None:
    folder = scratch_folder()
    jobs = sources(folder)
    print(
        f"pipeline benchmark: median of {ROUNDS} after a warm-up, one core, bytes in -> bytes out"
        f" (Pillow {PIL.__version__}, libvips {pyvips.version(0)}.{pyvips.version(1)})"
    )
    header = (
        f"{'job':<34}{'ours ms':>8}{'naive':>7}{'vips':>7}{'sharp':>7}{'/vips':>6}{'/sharp':>7}"
        f"{'KB ours':>8}{'vips':>6}{'sharp':>6}{'SSIM ours':>10}{'vips':>7}{'sharp':>7}"
        f"{'S2 ours':>8}{'vips':>6}{'sharp':>6}"
    )
    print(header)
    ratios: dict[str, list[float]] = {"vips": [], "sharp": [], "naive/vips": []}
    bytes_ratio: list[float] = []
    our_ms: list[float] = []
    scores: dict[str, list[float]] = {"ours": [], "vips": [], "sharp": []}
    perceptual: dict[str, list[float]] = {"ours": [], "vips": [], "sharp": []}
    sharp = Sharp()
    # A process's first few dozen renders run up to ~25% slower, whichever job comes first:
    # every job a few times, untimed, so that the first rows are measured like the others.
    for source in jobs.values():
        for width in WIDTHS:
            for output in FORMATS:
                for _ in range(2):
                    ours(source.read_bytes(), width, output)
    try:
        for source_name, source in jobs.items():
            for width in WIDTHS:
                for output in FORMATS:
                    result = run_job(source, width, output, sharp)
                    o_ms, o_bytes, _, _ = result["ours"]
                    our_ms.append(o_ms)
                    for peer in ("vips", "sharp"):
                        ratios[peer].append(o_ms / result[peer][0])
                    ratios["naive/vips"].append(result["naive"][0] / result["vips"][0])
                    bytes_ratio.append(o_bytes / result["sharp"][1])
                    for name in scores:
                        scores[name].append(result[name][2])
                        perceptual[name].append(result[name][3])
                    job = f"{source_name} -> {width} {output.name}"
                    v, sh = result["vips"], result["sharp"]
                    print(
                        f"{job:<34}{o_ms:>8.1f}{result['naive'][0]:>7.0f}{v[0]:>7.1f}"
                        f"{sh[0]:>7.1f}{o_ms / v[0]:>6.2f}{o_ms / sh[0]:>7.2f}"
                        f"{o_bytes / 1024:>8.1f}{v[1] / 1024:>6.0f}{sh[1] / 1024:>6.0f}"
                        f"{result['ours'][2]:>10.4f}{v[2]:>7.4f}{sh[2]:>7.4f}"
                        f"{result['ours'][3]:>8.2f}{v[3]:>6.1f}{sh[3]:>6.1f}",
                        flush=True,
                    )
    finally:
        sharp.close()
    geomean = {
        name: math.exp(statistics.fmean(map(math.log, values))) for name, values in ratios.items()
    }
    print(
        f"geometric mean: ours/sharp {geomean['sharp']:.3f} (worst {max(ratios['sharp']):.2f}), "
        f"ours/vips {geomean['vips']:.3f}, naive/vips {geomean['naive/vips']:.2f}; "
        f"bytes ours/sharp {math.exp(statistics.fmean(map(math.log, bytes_ratio))):.3f}"
    )
    print(
        "mean SSIMULACRA2 "
        + ", ".join(f"{name} {statistics.fmean(values):.2f}" for name, values in perceptual.items())
        + "; mean SSIM "
        + ", ".join(f"{name} {statistics.fmean(values):.4f}" for name, values in scores.items())
    )
    mean_ms, median_ms = statistics.fmean(our_ms), statistics.median(our_ms)
    print(
        f"Lambda arm64 at {LAMBDA_MEMORY_MB} MB, per million transforms with requests: "
        f"mean job ({mean_ms:.0f} ms) ${cost_per_million(mean_ms):.2f}, "
        f"median job ({median_ms:.0f} ms) ${cost_per_million(median_ms):.2f}"
    )
    largest = folder / "generated-24mp.jpg"
    print(
        f"peak RSS, 24MP jpeg -> 1200 avif in a fresh process: "
        f"{peak_memory_mb(largest, 1200, AVIF):.0f} MB"
    )


if __name__ == "__main__":
    main()
