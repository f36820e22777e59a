"""The local server's readable rendering of the handler's JSON records."""

from __future__ import annotations

import io
import json

from image_optimizer_cli.readable import ReadableStream, readable

MISS = {
    "level": "INFO", "message": "request", "timestamp": "2026-11-24 11:18:04,770+0000",
    "service": "image-optimizer", "cold_start": False, "correlation_id": "abc",
    "method": "GET", "path": "/images/landscapes/main.jpg", "status": 200, "cache": "miss",
    "key": "landscapes/main.jpg", "output_format": "webp", "output_bytes": 1194,
    "output_width": 200, "output_height": 133, "source_format": "jpeg", "source_bytes": 263290,
    "source_width": 2400, "source_height": 1600, "bytes_saved": 262096, "saved_ratio": 0.9954,
    "timings_ms": {"cache": 0.0, "fetch": 9.38, "decode": 3.26, "encode": 1.6},
    "processing_ms": 15.02, "duration_ms": 15.49,
}  # fmt: skip


def test_a_miss() -> None:
    assert readable(json.dumps(MISS)) == (
        "11:18:04 INFO    GET /images/landscapes/main.jpg -> 200  miss  15.5 ms  "
        "jpeg 2400x1600 257.1 KB -> webp 200x133 1.2 KB (-99.5%)  [fetch 9.4 decode 3.3 encode 1.6]"
    )


def test_a_hit_and_a_refusal() -> None:
    hit = {
        key: value
        for key, value in MISS.items()
        if not key.startswith(("source", "bytes", "saved"))
    }
    hit.update(cache="hit", timings_ms={"cache": 0.2})
    assert readable(json.dumps(hit)).endswith(
        "-> 200  hit  15.5 ms  webp 200x133 1.2 KB  [cache 0.2]"
    )
    refused = {"level": "WARNING", "message": "request", "timestamp": MISS["timestamp"],
               "method": "GET", "path": "/images/x.jpg", "status": 404,
               "error_code": "image_not_found", "duration_ms": 0.4}  # fmt: skip
    assert readable(json.dumps(refused)) == (
        "11:18:04 WARNING GET /images/x.jpg -> 404  image_not_found  0.4 ms"
    )


def test_other_records_show_their_fields_and_exceptions() -> None:
    record = {
        "level": "WARNING",
        "message": "redis unavailable; serving without it",
        "timestamp": MISS["timestamp"],
        "service": "image-optimizer",
        "operation": "get",
        "error_type": "ConnectionError",
        "exception": "Traceback ...",
    }
    assert readable(json.dumps(record)) == (
        "11:18:04 WARNING redis unavailable; serving without it operation=get "
        "error_type=ConnectionError\nTraceback ..."
    )


def test_metrics_are_left_out_and_text_passes_through() -> None:
    assert readable('{"_aws": {"Timestamp": 1}, "Requests": [1.0]}') is None
    assert readable("plain text") == "plain text"
    assert readable("[1, 2]") == "[1, 2]"


def test_the_stream_renders_whole_lines_only() -> None:
    target = io.StringIO()
    stream = ReadableStream(target)
    text = json.dumps(MISS)
    stream.write(text[:20])
    assert target.getvalue() == ""
    stream.write(text[20:] + "\n")
    assert target.getvalue().startswith("11:18:04 INFO    GET /images/landscapes/main.jpg")
