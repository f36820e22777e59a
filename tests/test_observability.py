"""One JSON record and valid EMF metrics per request, through the handler, on every path."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from conftest import get, invoke_event, load_event
from image_optimizer import app, observability

Records = Callable[[], list[dict[str, Any]]]
IMAGE = "/images/landscapes/main.jpg?w=200&format=webp"
SERVED_FIELDS = {
    "method", "path", "status", "key", "cache", "output_format", "output_bytes", "output_width",
    "output_height", "timings_ms", "processing_ms", "duration_ms",
}  # fmt: skip
MISS_FIELDS = SERVED_FIELDS | {
    "source_format", "source_bytes", "source_width", "source_height", "bytes_saved", "saved_ratio",
    "output_frames",
}  # fmt: skip
CONTEXT_FIELDS = {"service", "cold_start", "function_request_id", "correlation_id", "timestamp"}


@pytest.fixture(autouse=True)
def _s3(s3_handler: Callable[..., None]) -> None:
    """Every test here reads from the test bucket, with an in-process cache for hits."""
    s3_handler(MEMORY_CACHE_BYTES="10000000")


def requests_in(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in records if record["message"] == "request"]


def metrics_of(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each request record, checked to be valid Embedded Metric Format as well."""
    blobs = requests_in(records)
    for blob in blobs:  # every declared metric has a value, every dimension is there
        [directive] = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "ImageOptimizer"
        assert isinstance(blob["_aws"]["Timestamp"], int)
        for dimension_set in directive["Dimensions"]:
            assert all(name in blob for name in dimension_set)
        for metric in directive["Metrics"]:
            assert metric["Unit"] in {"Count", "Milliseconds", "Bytes"}
            assert all(isinstance(value, float) for value in blob[metric["Name"]])
    return blobs


def metric_values(blobs: list[dict[str, Any]]) -> dict[str, float]:
    values: dict[str, float] = {}
    for blob in blobs:
        for metric in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            values[metric["Name"]] = values.get(metric["Name"], 0) + sum(blob[metric["Name"]])
    return values


def test_a_miss_logs_one_record_with_every_field(log_lines: Records) -> None:
    get(IMAGE)
    [record] = requests_in(log_lines())
    assert set(record) >= MISS_FIELDS | CONTEXT_FIELDS
    assert record["level"] == "INFO"
    assert (record["status"], record["cache"], record["key"]) == (
        200,
        "miss",
        "landscapes/main.jpg",
    )
    assert (record["source_format"], record["output_format"]) == ("jpeg", "webp")
    assert (record["source_width"], record["output_width"]) == (2400, 200)
    assert record["output_frames"] == 1
    assert record["bytes_saved"] == record["source_bytes"] - record["output_bytes"]
    assert 0 < record["saved_ratio"] < 1
    assert set(record["timings_ms"]) >= {"cache", "fetch", "decode", "resize", "encode", "store"}
    assert record["duration_ms"] >= record["processing_ms"] > 0


def test_a_hit_logs_a_lighter_record(log_lines: Records) -> None:
    get(IMAGE)
    get(IMAGE)
    miss, hit = requests_in(log_lines())
    assert hit["cache"] == "hit"
    assert set(hit) >= SERVED_FIELDS
    assert "source_bytes" not in hit
    assert len(json.dumps(hit)) < len(json.dumps(miss))


def test_the_correlation_id_is_cloudfronts(log_lines: Records) -> None:
    event = load_event("function-url-get.json")
    invoke_event(event)
    [record] = requests_in(log_lines())
    assert record["correlation_id"] == event["headers"]["x-amz-cf-id"]


@pytest.mark.parametrize(
    ("target", "method", "status", "code", "level"),
    [
        ("/images/landscapes/main.jpg?w=abc", "GET", 400, "invalid_parameter", "WARNING"),
        ("/images/nothing.jpg", "GET", 404, "image_not_found", "WARNING"),
        ("/nowhere", "GET", 404, "route_not_found", "WARNING"),
        ("/images/a.jpg", "POST", 405, "method_not_allowed", "WARNING"),
    ],
)
def test_refusals_log_their_code_and_no_stack_trace(
    log_lines: Records, target: str, method: str, status: int, code: str, level: str
) -> None:
    get(target, method)
    [record] = requests_in(log_lines())
    assert (record["status"], record["error_code"], record["level"]) == (status, code, level)
    assert "exception" not in record
    assert len(log_lines()) == 1


def test_a_fault_of_ours_logs_its_stack_trace_once(
    log_lines: Records, monkeypatch: pytest.MonkeyPatch, s3_handler: Callable[..., None]
) -> None:
    monkeypatch.setenv("SOURCE_BUCKET", "no-such-bucket")
    app.settings.cache_clear()
    app.service.cache_clear()
    get(IMAGE)
    records = log_lines()
    [record] = requests_in(records)
    assert len(records) == 1
    assert (record["status"], record["error_code"], record["level"]) == (
        500,
        "internal_error",
        "ERROR",
    )
    assert "NoSuchBucket" in record["exception"]


def test_a_304_is_one_record(log_lines: Records) -> None:
    etag = get(IMAGE)["headers"]["ETag"]
    get(IMAGE, **{"if-none-match": etag})
    assert [r["status"] for r in requests_in(log_lines())] == [200, 304]


def test_nothing_is_logged_per_frame_or_pixel(
    log_lines: Records, capsys: pytest.CaptureFixture[str]
) -> None:
    get("/images/corpus/animated-earth.gif?w=300&format=webp")
    assert len(metrics_of(log_lines())) == 1  # one line: the record, with the metrics
    assert len(log_lines()) == 1
    assert capsys.readouterr().out == ""


def test_metrics_of_a_miss_and_a_hit(log_lines: Records) -> None:
    get(IMAGE)
    miss = metric_values(metrics_of(log_lines()))
    assert miss["Requests"] == 1
    assert miss["Responses2xx"] == 1
    assert miss["CacheMisses"] == 1
    assert miss["ProcessingTime"] > 0
    assert miss["BytesSaved"] == miss["OriginalBytes"] - miss["OptimizedBytes"] > 0
    get(IMAGE)
    hit = metric_values(metrics_of(log_lines())[1:])
    assert hit == {"Requests": 1, "Responses2xx": 1, "CacheHits": 1}


def test_metric_dimensions_stay_few(log_lines: Records) -> None:
    get(IMAGE)
    get("/images/landscapes/main.jpg?w=abc")
    get("/images/landscapes/main.jpg", "DELETE")
    blobs = metrics_of(log_lines())
    assert len(blobs) == 3
    for blob in blobs:
        [directive] = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Dimensions"] == [["service"]]  # never the key, a size or a status
    values = metric_values(blobs)
    assert (values["Responses2xx"], values["Responses4xx"], values["Requests"]) == (1, 2, 3)


def test_a_containers_first_request_counts_a_cold_start(
    log_lines: Records, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(observability, "_cold_start", True)
    get(IMAGE)
    get(IMAGE)
    [blob] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [directive] = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Metrics"] == [{"Name": "ColdStart", "Unit": "Count"}]
    assert sorted(directive["Dimensions"][0]) == ["function_name", "service"]
    assert blob["ColdStart"] == [1.0]
    assert len(metrics_of(log_lines())) == 2


def test_cache_errors_are_counted(
    s3_handler: Callable[..., None], log_lines: Records, refused_port: int
) -> None:
    s3_handler(REDIS_URL=f"redis://127.0.0.1:{refused_port}/0")
    get(IMAGE)
    [record] = requests_in(log_lines())
    assert record["cache_errors"] >= 1
    assert metric_values(metrics_of(log_lines()))["CacheErrors"] >= 1


def test_metrics_go_out_alone_when_the_log_level_hides_the_record(
    log_lines: Records, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(observability, "_cold_start", False)
    previous = app.logger.log_level
    app.logger.setLevel("ERROR")
    try:
        get(IMAGE)
    finally:
        app.logger.setLevel(previous)
    assert log_lines() == []
    [blob] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert metric_values([blob])["CacheMisses"] == 1
