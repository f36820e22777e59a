"""One structured record per request, carrying its metrics, written when the request ends.

The handler opens a `RequestRecord`, the request fills it in (what was served, or why not), and
`publish` writes it once: one JSON line through aws-lambda-powertools' Logger that is also the
request's CloudWatch metrics in Embedded Metric Format (built by powertools' Metrics).
CloudWatch extracts metrics from any JSON log event with an ``_aws`` member, so there is no API
call in the request path, and one serialisation and one write serve both. The only metric
dimension is the service: nothing per image or per request, so the metrics stay few and cheap.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_optimizer import SERVICE_NAME
from image_optimizer.errors import OptimizerError
from image_optimizer.service import Served

METRICS_NAMESPACE = "ImageOptimizer"
RECORD_MESSAGE = "request"

# Messages here are plain words: powertools would first try each as JSON, and raise and catch
# an error doing so (~20 us a record on a cached request's path).
logger = Logger(service=SERVICE_NAME, json_deserializer=str)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
_cold_start = True


class RequestRecord:
    """What one request's log record says, filled in as the request goes."""

    def __init__(self, method: str, path: str) -> None:
        self.method, self.path = method, path
        self.started = time.perf_counter()
        self.served: Served | None = None
        self.error: OptimizerError | None = None
        self.failure: BaseException | None = None  # an unexpected one: logged with its trace

    def fields(self, status: int) -> dict[str, Any]:
        record: dict[str, Any] = {"method": self.method, "path": self.path, "status": status}
        if self.error is not None:
            record["error_code"] = self.error.code
            if self.error.reason is not None:
                record["error_reason"] = self.error.reason
        served = self.served
        if served is not None:
            image = served.image
            record.update(
                key=served.key,
                cache=served.cache_status,
                output_format=image.content_type.removeprefix("image/"),
                output_bytes=image.size,
                output_width=image.width,
                output_height=image.height,
                timings_ms={name: round(ms, 2) for name, ms in served.timings.items()},
                processing_ms=round(served.total_ms, 2),
            )
            if served.cache_errors:
                record["cache_errors"] = served.cache_errors
            if served.missing:
                record["fallback"] = True  # the original is missing; FALLBACK_KEY was served
            rendition = served.rendition
            if rendition is not None and served.source_bytes is not None:
                saved = served.source_bytes - image.size
                record.update(
                    source_format=rendition.source_format.lower(),
                    source_bytes=served.source_bytes,
                    source_width=rendition.source_width,
                    source_height=rendition.source_height,
                    output_frames=rendition.frames,
                    bytes_saved=saved,
                    saved_ratio=round(saved / served.source_bytes, 4) if served.source_bytes else 0,
                )
        record["duration_ms"] = round((time.perf_counter() - self.started) * 1000, 2)
        return record


def publish(record: RequestRecord, status: int) -> None:
    """Write the request's one line: its log record, with its metrics in EMF."""
    emf = metrics.serialize_metric_set(
        metrics=_metric_set(record, status),
        dimensions=metrics.dimension_set,
        metadata=metrics.metadata_set,
    )
    level, write = _level_of(record, status)
    if logger.log_level > level:
        # The log level filters the record out; its metrics must still reach CloudWatch, on a
        # line of their own as powertools' flush_metrics() writes them.
        print(json.dumps(emf, separators=(",", ":")))
        return
    write(RECORD_MESSAGE, extra={**record.fields(status), **emf}, exc_info=record.failure)


def _level_of(record: RequestRecord, status: int) -> tuple[int, Callable[..., None]]:
    """ERROR (with the stack trace when the fault is ours) for 5xx, WARNING for 4xx, else INFO."""
    if record.failure is not None or status >= 500:
        return logging.ERROR, logger.error
    if status >= 400:
        return logging.WARNING, logger.warning
    return logging.INFO, logger.info


def count_cold_start(context: LambdaContext) -> None:
    """A container's first request also writes powertools' ColdStart metric (by function name)."""
    global _cold_start
    if _cold_start:
        _cold_start = False
        metrics.provider.add_cold_start_metric(context)


def _metric_set(record: RequestRecord, status: int) -> dict[str, dict[str, Any]]:
    """The request's metrics, in the form powertools' serializer takes them.

    Built whole rather than through `add_metric()`, which validates every name and unit again on
    every call: 47 -> 10 us for a cached request's three metrics, to the same EMF.
    """
    count = MetricUnit.Count
    measures: dict[str, tuple[MetricUnit, float]] = {
        "Requests": (count, 1),
        # The status class in the name rather than in a dimension: one EMF blob per request (a
        # second blob for a dimension costs a cached request ~50 us), and four metrics in all.
        f"Responses{status // 100}xx": (count, 1),
    }
    served = record.served
    if served is not None:
        if served.cache_errors:
            measures["CacheErrors"] = (count, served.cache_errors)
        if served.cache_status == "hit":
            measures["CacheHits"] = (count, 1)
        else:
            measures["CacheMisses"] = (count, 1)
            measures["ProcessingTime"] = (MetricUnit.Milliseconds, served.total_ms)
        if served.source_bytes is not None:
            output_bytes = served.image.size
            measures["OriginalBytes"] = (MetricUnit.Bytes, served.source_bytes)
            measures["OptimizedBytes"] = (MetricUnit.Bytes, output_bytes)
            measures["BytesSaved"] = (MetricUnit.Bytes, served.source_bytes - output_bytes)
    return {
        name: {"Unit": unit.value, "StorageResolution": 60, "Value": [float(value)]}
        for name, (unit, value) in measures.items()
    }
