"""One exception family for everything a client can be told.

Each error carries its HTTP status, a stable machine-readable ``code`` and a public ``message``
that is safe to show: it names what was wrong and what is allowed, never internals.
The handler turns any of them into ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations


class OptimizerError(Exception):
    """Base class: an answer other than 2xx that the service gives on purpose."""

    status: int = 500
    code: str = "internal_error"
    retry_after: int | None = None  # seconds, sent as Retry-After: the client may try again
    # How long caches may keep a 5xx answer, in seconds (4xx answers are kept a minute): none by
    # default, since the next try may well succeed.
    kept_seconds: int = 0

    def __init__(
        self, message: str, *, parameter: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter
        self.reason = reason  # for the logs only: what lies behind an answer that must not say

    def body(self) -> dict[str, dict[str, str]]:
        error = {"code": self.code, "message": self.message}
        if self.parameter is not None:
            error["parameter"] = self.parameter
        return {"error": error}


class InvalidParameter(OptimizerError):
    status = 400
    code = "invalid_parameter"


class InvalidKey(OptimizerError):
    status = 400
    code = "invalid_key"


class ImageNotFound(OptimizerError):
    status = 404
    code = "image_not_found"


class RouteNotFound(OptimizerError):
    status = 404
    code = "route_not_found"


class MethodNotAllowed(OptimizerError):
    status = 405
    code = "method_not_allowed"


class SourceTooLarge(OptimizerError):
    """The source object has more bytes than ``MAX_SOURCE_BYTES``."""

    status = 413
    code = "source_too_large"


class ImageTooLarge(OptimizerError):
    """The source image has more pixels than ``MAX_SOURCE_PIXELS`` (checked before decoding)."""

    status = 413
    code = "image_too_large"


class OutputTooLarge(OptimizerError):
    """The encoded result would not fit in a Lambda response once base64-encoded."""

    status = 413
    code = "output_too_large"

    @classmethod
    def costly(cls, name: str, pixels: int, limit: float) -> OutputTooLarge:
        return cls(
            f"{pixels / 1e6:.1f} MP of {name} is more than the {limit / 1e6:.1f} MP this service "
            "encodes in that format; ask for a smaller w or h, or another format"
        )

    @classmethod
    def beyond(cls, limit: int) -> OutputTooLarge:
        return cls(
            f"the result is more than the {limit} bytes a response can carry; "
            "ask for a smaller w or h, or a lossy format"
        )


class TooManyFrames(OptimizerError):
    """An animation has more frames than ``MAX_ANIMATION_FRAMES``."""

    status = 413
    code = "too_many_frames"


class UnsupportedImage(OptimizerError):
    """The source is not an image in one of the enabled web formats."""

    status = 415
    code = "unsupported_image"


class CorruptImage(OptimizerError):
    """The source looks like a supported image but cannot be decoded."""

    status = 422
    code = "corrupt_image"


class SourceUnavailable(OptimizerError):
    """The source store failed or throttled us; the client may retry."""

    status = 503
    code = "source_unavailable"
    retry_after = 1


class WatermarkUnavailable(OptimizerError):
    """The deployment's watermark picture is missing or unreadable: its mistake, not the URL's."""

    status = 500
    code = "watermark_unavailable"


class ResultUnavailable(OptimizerError):
    """A result too large to send could not be stored to be fetched; the client may retry."""

    status = 503
    code = "result_store_unavailable"
    retry_after = 1


class TimeBudgetExceeded(OptimizerError):
    """The invocation would run out of time before the image is made: answered, not killed.

    Kept briefly by CloudFront (which keeps an error for as long as its max-age says, when
    that is longer than the distribution's own error TTL): the same slow URL asked for again
    and again is answered at the edge for those seconds rather than rendered again each time.
    """

    status = 503
    code = "time_budget_exceeded"
    retry_after = 2
    kept_seconds = 10
