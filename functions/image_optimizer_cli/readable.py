"""The handler's JSON output made readable for a person at a terminal.

`image-optimizer serve` writes through this when standard output is a terminal: each request
record becomes one line (time, level, request, status, cache, sizes, stage timings; not the
metrics it carries for CloudWatch), other records show their message and fields, and lines that
are only metrics (Embedded Metric Format) are left out. Anything not JSON passes through.
"""

from __future__ import annotations

import io
import json
from typing import Any, TextIO

_CONTEXT = {
    "level", "location", "message", "timestamp", "service", "cold_start", "function_name",
    "function_memory_size", "function_arn", "function_request_id", "correlation_id",
    "xray_trace_id", "sampling_rate",
}  # fmt: skip


class ReadableStream(io.TextIOBase):
    def __init__(self, target: TextIO) -> None:
        self._target = target
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            shown = readable(line)
            if shown is not None:
                self._target.write(shown + "\n")
        self._target.flush()
        return len(text)

    def flush(self) -> None:
        self._target.flush()


def readable(line: str) -> str | None:
    """One output line as a person would read it; None for lines not meant for people."""
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict):
        return line
    if "_aws" in record and "message" not in record:
        return None
    time = str(record.get("timestamp", ""))[11:19]
    level = str(record.get("level", "")).ljust(7)
    if record.get("message") == "request":
        text = f"{time} {level} {_request(record)}"
    else:
        extra = " ".join(
            f"{k}={v}"
            for k, v in record.items()
            if k not in _CONTEXT | {"exception", "exception_name"}
        )
        text = f"{time} {level} {record.get('message', '')} {extra}".rstrip()
    if "exception" in record:
        text += "\n" + str(record["exception"])
    return text


def _request(record: dict[str, Any]) -> str:
    parts = [f"{record.get('method', '')} {record.get('path', '')} -> {record.get('status', '')}"]
    for name in ("cache", "error_code"):
        if name in record:
            parts.append(str(record[name]))
    parts.append(f"{record.get('duration_ms', 0):.1f} ms")
    if "source_bytes" in record:
        parts.append(
            f"{record['source_format']} {record['source_width']}x{record['source_height']} "
            f"{human_size(record['source_bytes'])} -> {_output(record)} "
            f"({-100 * record['saved_ratio']:+.1f}%)"
        )
    elif "output_bytes" in record:
        parts.append(_output(record))
    if record.get("timings_ms"):
        stages = " ".join(
            f"{name} {ms:.1f}" for name, ms in record["timings_ms"].items() if ms >= 0.05
        )
        parts.append(f"[{stages}]")
    return "  ".join(parts)


def _output(record: dict[str, Any]) -> str:
    size = f"{record['output_width']}x{record['output_height']}"
    return f"{record['output_format']} {size} {human_size(record['output_bytes'])}"


def human_size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KB"
    return f"{count / 1024 / 1024:.1f} MB"
