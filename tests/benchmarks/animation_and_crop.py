"""Benchmark: animations, and where a crop sits; ours beside libvips in the same run.

Run with `make bench` (pinned to one core). Two tables, medians of ROUNDS after a warm-up, the
two pipelines interleaved, with matched encoder settings:

- animations: each animation in the corpus, 200 px wide, to WebP, AVIF and GIF, every frame
  kept: bytes in, bytes out (ours, libvips') and time. Ours should be smaller than the source
  in WebP and AVIF, and near libvips in time;
- crop strategies: a 24 MP JPEG to a 400x400 cover crop placed by the centre, by entropy and by
  attention (ours) and by libvips' thumbnail with the same three ``crop`` modes. What a strategy
  costs is its time over the centre crop's, measured in the same run.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

import pyvips
from PIL import Image
from pipeline import CORPUS, VIPS_SAVE, large_photo, scratch_folder  # the benchmark beside this

from image_optimizer.formats import AVIF, GIF, WEBP, OutputFormat
from image_optimizer.pipeline import render
from image_optimizer.request import parse_query

ANIMATIONS = ("animated-earth.gif", "animated-iss634.webp", "animated-star.avif")
ANIMATION_WIDTH = 200
CROP_BOX = 400
VIPS_ANIMATED_SAVE = {**{name: VIPS_SAVE[name].format(keep="") for name in ("webp", "avif")},
                      "gif": ".gif"}  # fmt: skip
STRATEGIES = {"centre": "center", "entropy": "entropy", "attention": "attention"}  # vips: ours

Job = Callable[[], bytes]


def median_ms(jobs: dict[str, Job], rounds: int) -> tuple[dict[str, float], dict[str, bytes]]:
    """Each job's median time over ``rounds`` after one warm-up, the jobs interleaved."""
    outputs = {name: job() for name, job in jobs.items()}
    times: dict[str, list[float]] = {name: [] for name in jobs}
    names = list(jobs)
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            jobs[name]()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}, outputs


def ours_animated(data: bytes, output: OutputFormat) -> Job:
    spec = parse_query(f"w={ANIMATION_WIDTH}&format={output.name}", None, 4096)
    return lambda: render(data, spec, max_pixels=10**9).body


def vips_animated(data: bytes, output: OutputFormat) -> Job | None:
    """libvips' job, or None where it cannot read the animation (libheif reads no AVIF
    sequences)."""

    def job() -> bytes:
        frames = pyvips.Image.thumbnail_buffer(data, ANIMATION_WIDTH, option_string="n=-1")
        saved: bytes = frames.write_to_buffer(VIPS_ANIMATED_SAVE[output.name])
        return saved

    try:
        job()
    except pyvips.Error:
        return None
    return job


def frame_count(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as image:
        return getattr(image, "n_frames", 1)


def ours_cropped(data: bytes, position: str) -> Job:
    query = f"w={CROP_BOX}&h={CROP_BOX}&format=webp&position={position}"
    spec = parse_query(query, None, 4096)
    return lambda: render(data, spec, max_pixels=10**9).body


def vips_cropped(data: bytes, crop: str) -> Job:
    def job() -> bytes:
        image = pyvips.Image.thumbnail_buffer(data, CROP_BOX, height=CROP_BOX, crop=crop)
        saved: bytes = image.write_to_buffer(VIPS_ANIMATED_SAVE["webp"])
        return saved

    return job


def animation_table(
    rounds: int,
    names: tuple[str, ...] = ANIMATIONS,
    formats: tuple[OutputFormat, ...] = (WEBP, AVIF, GIF),
) -> list[str]:
    lines = [
        f"{'animation':<34}{'frames':>7}{'KB in':>8}{'KB ours':>9}{'KB vips':>9}"
        f"{'out/in':>8}{'ours ms':>9}{'vips ms':>9}{'ours/vips':>10}"
    ]
    for name in names:
        data = (CORPUS / name).read_bytes()
        for output in formats:
            jobs = {"ours": ours_animated(data, output)}
            if (theirs := vips_animated(data, output)) is not None:
                jobs["vips"] = theirs
            times, outputs = median_ms(jobs, rounds)
            ours = outputs["ours"]
            assert frame_count(ours) == frame_count(data), (name, output.name)
            theirs_kb, theirs_ms, ratio = "-", "-", "-"
            if "vips" in outputs:
                theirs_kb, theirs_ms = f"{len(outputs['vips']) / 1024:.1f}", f"{times['vips']:.1f}"
                ratio = f"{times['ours'] / times['vips']:.2f}"
            lines.append(
                f"{name + ' -> ' + output.name:<34}{frame_count(ours):>7}"
                f"{len(data) / 1024:>8.1f}{len(ours) / 1024:>9.1f}{theirs_kb:>9}"
                f"{len(ours) / len(data):>8.2f}{times['ours']:>9.1f}{theirs_ms:>9}{ratio:>10}"
            )
    return lines


def crop_table(data: bytes, rounds: int) -> list[str]:
    jobs: dict[str, Job] = {}
    for label, position in STRATEGIES.items():
        jobs[f"ours {label}"] = ours_cropped(data, position)
        jobs[f"vips {label}"] = vips_cropped(data, label)  # libvips spells it "centre"
    times, _ = median_ms(jobs, rounds)
    lines = [f"{'photo -> 400x400 webp':<30}{'ms':>9}{'over centre':>13}{'/ centre':>10}"]
    for pipeline in ("ours", "vips"):
        centre = times[f"{pipeline} centre"]
        for label in STRATEGIES:
            spent = times[f"{pipeline} {label}"]
            lines.append(
                f"{pipeline + ' ' + label:<30}{spent:>9.1f}{spent - centre:>13.1f}"
                f"{spent / centre:>10.2f}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    print(f"animations, {ANIMATION_WIDTH} px wide, median of {rounds}, one core:")
    print("\n".join(animation_table(rounds)), flush=True)
    print(f"\ncrop strategies, median of {rounds}, one core:")
    print("\n".join(crop_table(large_photo(scratch_folder()).read_bytes(), rounds)))


if __name__ == "__main__":
    main()
