"""One structured record and one set of metrics per request, written when the request ends.

The handler opens a `RequestRecord`, the request fills it in (what was served, or why not), and
`publish` writes it once: a JSON log line through aws-lambda-powertools' Logger, and CloudWatch
metrics in Embedded Metric Format on standard output, which CloudWatch turns into metrics
without an API call in the request path. The only metric dimension is the service: nothing per
image or per request, so the metrics stay few and cheap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from image_optimizer import SERVICE_NAME
from image_optimizer.errors import OptimizerError
from image_optimizer.service import Served

METRICS_NAMESPACE = "ImageOptimizer"
RECORD_MESSAGE = "request"

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


@dataclass
class RequestRecord:
    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    served: Served | None = None
    error: OptimizerError | None = None
    failure: BaseException | None = None  # an unexpected exception: logged with its trace

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
                output_bytes=len(image.body),
                output_width=image.width,
                output_height=image.height,
                timings_ms={name: round(ms, 2) for name, ms in served.timings.items()},
                processing_ms=round(served.total_ms, 2),
            )
            if served.cache_errors:
                record["cache_errors"] = served.cache_errors
            rendition = served.rendition
            if rendition is not None and served.source_bytes is not None:
                saved = served.source_bytes - len(image.body)
                record.update(
                    source_format=rendition.source_format.lower(),
                    source_bytes=served.source_bytes,
                    source_width=rendition.source_width,
                    source_height=rendition.source_height,
                    bytes_saved=saved,
                    saved_ratio=round(saved / served.source_bytes, 4) if served.source_bytes else 0,
                )
        record["duration_ms"] = round((time.perf_counter() - self.started) * 1000, 2)
        return record


def publish(record: RequestRecord, status: int) -> None:
    """Write the request's one log record and add its metrics (flushed when the handler ends)."""
    fields = record.fields(status)
    if record.failure is not None:
        logger.error(RECORD_MESSAGE, extra=fields, exc_info=record.failure)
    elif status >= 500:
        logger.error(RECORD_MESSAGE, extra=fields)
    elif status >= 400:
        logger.warning(RECORD_MESSAGE, extra=fields)
    else:
        logger.info(RECORD_MESSAGE, extra=fields)
    _add_metrics(record, status)


def _add_metrics(record: RequestRecord, status: int) -> None:
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    # The status class in the name rather than in a dimension: one EMF blob per request (a
    # second blob for a dimension costs a cached request ~50 us), and four metrics in all.
    metrics.add_metric(name=f"Responses{status // 100}xx", unit=MetricUnit.Count, value=1)
    served = record.served
    if served is None:
        return
    if served.cache_errors:
        metrics.add_metric(name="CacheErrors", unit=MetricUnit.Count, value=served.cache_errors)
    if served.cache_status == "hit":
        metrics.add_metric(name="CacheHits", unit=MetricUnit.Count, value=1)
        return
    metrics.add_metric(name="CacheMisses", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ProcessingTime", unit=MetricUnit.Milliseconds, value=served.total_ms)
    if served.source_bytes is not None:
        output_bytes = len(served.image.body)
        metrics.add_metric(name="OriginalBytes", unit=MetricUnit.Bytes, value=served.source_bytes)
        metrics.add_metric(name="OptimizedBytes", unit=MetricUnit.Bytes, value=output_bytes)
        metrics.add_metric(
            name="BytesSaved", unit=MetricUnit.Bytes, value=served.source_bytes - output_bytes
        )
