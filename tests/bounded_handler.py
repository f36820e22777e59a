"""Requests through the real handler in a child process under a memory limit and a per-request
alarm: how the hostile-file tests check that every answer stays inside a function's bounds."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MEMORY_LIMIT_BYTES = 1769 * 1024 * 1024  # the template's default function size
SECONDS_PER_REQUEST = 20

_WORKER = """
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
    for query in json.loads(sys.argv[4]):
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


@dataclass(frozen=True, slots=True)
class Report:
    statuses: dict[str, int | str]  # "<file>?<query>" -> status, or "timeout"
    peak_rss: int


def serve_each(folder: Path, queries: Sequence[str]) -> Report:
    """Ask for every file in ``folder`` with every query, from a fresh bounded process."""
    result = subprocess.run(
        [
            sys.executable, "-c", _WORKER, folder, str(MEMORY_LIMIT_BYTES),
            str(SECONDS_PER_REQUEST), json.dumps(list(queries)),
        ],
        env={"SOURCE_DIR": str(folder), "PATH": "/usr/bin:/bin", "POWERTOOLS_LOG_LEVEL": "ERROR"},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    statuses = {request: answer[0] for request, answer in report["results"].items()}
    return Report(statuses, report["peak_rss"])
