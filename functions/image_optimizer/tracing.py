"""X-Ray subsegments around the service's stages (cache, fetch, transform, store), when enabled.

Off unless ``TRACING_ENABLED`` is true, because the X-Ray SDK is only worth loading when the
function has tracing on (template.yaml's ``Tracing`` parameter sets both). A `Spans` is what the
service calls with a stage name; without tracing it is a no-op that costs nothing measurable.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from image_optimizer import SERVICE_NAME
from image_optimizer.settings import ConfigurationError

Spans = Callable[[str], AbstractContextManager[object]]


def no_spans(name: str) -> AbstractContextManager[object]:
    return nullcontext()


def xray_spans() -> Spans:
    """Subsegments of the invocation's X-Ray segment, through aws-lambda-powertools' Tracer."""
    try:
        from aws_lambda_powertools import Tracer

        # No auto-patching: boto3 and http clients stay as they are; the stages are traced here.
        tracer = Tracer(service=SERVICE_NAME, disabled=False, auto_patch=False)
    except ImportError:
        raise ConfigurationError(
            "TRACING_ENABLED is true but aws-xray-sdk is not installed"
        ) from None

    def span(name: str) -> AbstractContextManager[object]:
        return tracer.provider.in_subsegment(name=name)

    return span
