"""`image-optimizer warm`: make every requested variant of every image under a prefix ahead of time.

Each variant goes through the real service, so it lands in the configured cache (Redis, for a
deployment's containers to find) exactly as a request would put it there; variants already
cached are counted, not remade. Work runs on a thread pool; Pillow's codecs release the GIL.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TextIO

from image_optimizer.errors import OptimizerError
from image_optimizer.service import ImageService
from image_optimizer.spec import TransformSpec
from image_optimizer_cli.readable import human_size

BAR_WIDTH = 30


@dataclass
class WarmReport:
    images: int = 0
    variants: int = 0
    made: int = 0
    cached: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # key, variant, why

    def table(self) -> str:
        header = (
            "images",
            "variants",
            "made",
            "cached",
            "failed",
            "bytes in",
            "bytes out",
            "seconds",
        )
        row = (
            str(self.images), str(self.variants), str(self.made), str(self.cached),
            str(len(self.failures)), human_size(self.bytes_in), human_size(self.bytes_out),
            f"{self.seconds:.1f}",
        )  # fmt: skip
        widths = [max(len(a), len(b)) for a, b in zip(header, row, strict=True)]
        return "\n".join(
            "  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
            for line in (header, row)
        )


def warm(
    service: ImageService,
    keys: Sequence[str],
    specs: Sequence[tuple[str, TransformSpec]],
    concurrency: int,
    progress: TextIO | None,
) -> WarmReport:
    """Serve every (key, spec) pair; ``specs`` pairs each spec with a label for the report."""
    report = WarmReport(images=len(keys), variants=len(keys) * len(specs))
    lock = threading.Lock()
    started = time.monotonic()

    def one(job: tuple[str, tuple[str, TransformSpec]]) -> None:
        key, (label, spec) = job
        try:
            served = service.serve(key, spec)
        except OptimizerError as error:
            outcome: tuple[str, str, str] | None = (key, label, f"{error.code}: {error.message}")
        except Exception as error:  # a tool reports every failure and goes on with the rest
            outcome = (key, label, f"{type(error).__name__}: {error}")
        else:
            outcome = None
        with lock:
            if outcome is not None:
                report.failures.append(outcome)
            elif served.cache_status == "hit":
                report.cached += 1
            else:
                report.made += 1
                report.bytes_in += served.source_bytes or 0
                report.bytes_out += served.image.size
            done = report.made + report.cached + len(report.failures)
            if progress is not None:
                _draw(progress, done, report.variants)

    jobs = [(key, variant) for key in keys for variant in specs]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, jobs))
    if progress is not None and jobs:
        progress.write("\n")
    report.seconds = time.monotonic() - started
    report.failures.sort()
    return report


def _draw(stream: TextIO, done: int, total: int) -> None:
    filled = BAR_WIDTH * done // max(total, 1)
    stream.write(f"\rwarming [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}")
    stream.flush()


def progress_stream() -> TextIO | None:
    """The progress bar goes to a terminal only; logs and pipes get the summary alone."""
    return sys.stderr if sys.stderr.isatty() else None
