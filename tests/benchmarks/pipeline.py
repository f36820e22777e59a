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


def sources(folder: Path) -> dict[str, bytes]:
    return {
        "6MP jpeg": (CORPUS / "flickr-6mp.jpg").read_bytes(),
        "12MP jpeg (orient 6)": (CORPUS / "phone-12mp-orient6-icc.jpg").read_bytes(),
        "24MP jpeg": large_photo(folder).read_bytes(),
        "3MP png rgba": (CORPUS / "alpha-3mp.png").read_bytes(),
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


def run_job(data: bytes, width: int, output: OutputFormat) -> dict[str, Result]:
    outputs = {name: pipeline(data, width, output) for name, pipeline in PIPELINES.items()}
    times: dict[str, list[float]] = {name: [] for name in PIPELINES}
    names = list(PIPELINES)
    for round_number in range(ROUNDS):
        order = names[round_number % 3 :] + names[: round_number % 3]  # interleaved, rotated
        for name in order:
            started = time.perf_counter()
            PIPELINES[name](data, width, output)
            times[name].append((time.perf_counter() - started) * 1000)
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
        f"{'job':<34}{'ours ms':>9}{'naive ms':>10}{'vips ms':>9}{'ours/vips':>10}"
        f"{'naive/vips':>11}{'KB ours':>9}{'KB vips':>9}{'SSIM ours':>10}{'SSIM vips':>10}"
        f"{'S2 ours':>9}{'S2 vips':>9}"
    )
    print(header)
    ratios: dict[str, list[float]] = {"ours": [], "naive": []}
    our_ms: list[float] = []
    scores: dict[str, list[float]] = {"ours": [], "vips": []}
    perceptual: dict[str, list[float]] = {"ours": [], "vips": []}
    for source_name, data in jobs.items():
        for width in WIDTHS:
            for output in FORMATS:
                result = run_job(data, width, output)
                (o_ms, o_bytes, o_ssim, o_s2), (n_ms, *_), (v_ms, v_bytes, v_ssim, v_s2) = (
                    result["ours"], result["naive"], result["vips"]
                )  # fmt: skip
                our_ms.append(o_ms)
                ratios["ours"].append(o_ms / v_ms)
                ratios["naive"].append(n_ms / v_ms)
                scores["ours"].append(o_ssim)
                scores["vips"].append(v_ssim)
                perceptual["ours"].append(o_s2)
                perceptual["vips"].append(v_s2)
                job = f"{source_name} -> {width} {output.name}"
                print(
                    f"{job:<34}{o_ms:>9.1f}{n_ms:>10.1f}{v_ms:>9.1f}{o_ms / v_ms:>10.2f}"
                    f"{n_ms / v_ms:>11.2f}{o_bytes / 1024:>9.1f}{v_bytes / 1024:>9.1f}"
                    f"{o_ssim:>10.4f}{v_ssim:>10.4f}{o_s2:>9.2f}{v_s2:>9.2f}",
                    flush=True,
                )
    geomean = {
        name: math.exp(statistics.fmean(map(math.log, values))) for name, values in ratios.items()
    }
    print(
        f"geometric mean: ours/vips {geomean['ours']:.3f}, naive/vips {geomean['naive']:.2f}; "
        f"mean SSIM ours {statistics.fmean(scores['ours']):.4f}, "
        f"vips {statistics.fmean(scores['vips']):.4f}; "
        f"mean SSIMULACRA2 ours {statistics.fmean(perceptual['ours']):.2f}, "
        f"vips {statistics.fmean(perceptual['vips']):.2f}"
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
