"""The Lambda handler: a Function URL or HTTP API (payload 2.0) event in, a response out.

HTTP concerns only: routing, parsing the request into a key and a `TransformSpec`, and turning
the service's answer (or its `OptimizerError`) into status, headers and a base64 body. The service
is built once per container, on the first request that needs it.

Routes: ``GET|HEAD /images/{key+}`` and ``GET|HEAD /health``; anything else is a JSON 404 or 405.
"""

from __future__ import annotations

import math
import re
import time
from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_optimizer import __version__
from image_optimizer.errors import MethodNotAllowed, OptimizerError, OutputTooLarge, RouteNotFound
from image_optimizer.observability import RequestRecord, count_cold_start, logger, publish
from image_optimizer.request import IMAGES_PREFIX, parse_key, parse_query
from image_optimizer.service import ImageService, Served
from image_optimizer.settings import Settings
from image_optimizer.signing import SIGNING_PARAMETERS, stored_secret, verify

ALLOWED_METHODS = ("GET", "HEAD")
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
_HEADROOM = 64 * 1024  # status, headers and JSON framing around the body
MAX_BODY_BYTES = (LAMBDA_RESPONSE_LIMIT - _HEADROOM) // 4 * 3  # base64 turns 3 bytes into 4
CLIENT_ERROR_CACHE_CONTROL = "public, max-age=60"
SERVER_ERROR_CACHE_CONTROL = "no-store"
_KNOWN_PATHS = re.compile(r"^/health$|^/images/")
_LIFETIME = re.compile(r"\b(max-age|s-maxage)=([0-9]+)", re.IGNORECASE)
_MAX_AGE = re.compile(r"\bmax-age=", re.IGNORECASE)

app = APIGatewayHttpResolver()


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def service() -> ImageService:
    return ImageService.from_settings(settings(), max_output_bytes=MAX_BODY_BYTES)


@cache
def signing_secret() -> bytes | None:
    """The URL signing secret, if URLs must be signed (read once per container)."""
    configured = settings()
    if configured.signing_secret_name:
        return stored_secret(configured.signing_secret_name)
    return configured.signing_secret


@app.route("/health", method=list(ALLOWED_METHODS))
def health() -> Response:
    body = {"status": "ok", "version": __version__}
    return Response(HTTPStatus.OK, "application/json", body, {"Cache-Control": "no-store"})


@app.route(f"{IMAGES_PREFIX}.*", method=list(ALLOWED_METHODS))
def image() -> Response:
    event = app.current_event
    headers = event.headers
    key = parse_key(
        event.path[len(IMAGES_PREFIX) :], percent_encoded=_path_is_encoded(event.raw_event)
    )
    configured, secret = settings(), signing_secret()
    spec = parse_query(
        event.raw_query_string,
        headers.get("accept"),
        configured.max_dimension,
        configured.allowed_values,
        SIGNING_PARAMETERS if secret else (),
    )
    expires = verify(secret, key, event.raw_query_string) if secret else None
    served = service().serve(key, spec, _deadline())
    _record().served = served
    cache_control = configured.cache_control
    if expires is not None:
        cache_control = _lasting_at_most(cache_control, expires - int(time.time()))
    return _image_response(
        served,
        cache_control,
        vary_accept=spec.negotiated,
        if_none_match=headers.get("if-none-match"),
        head=event.http_method.upper() == "HEAD",
    )


@app.not_found
def not_found(_: NotFoundError) -> Response:
    event = app.current_event
    if _KNOWN_PATHS.match(event.path):
        raise MethodNotAllowed(
            f"{event.http_method} is not allowed here; use {' or '.join(ALLOWED_METHODS)}"
        )
    raise RouteNotFound(f"no route for {event.path[:200]!r}; images are at /images/<key>")


@app.exception_handler(OptimizerError)
def optimizer_error(error: OptimizerError) -> Response:
    _record().error = error  # logged with its code and no stack trace: it is an answer, not a bug
    headers = {"Cache-Control": _error_cache_control(error.status)}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = ", ".join(ALLOWED_METHODS)
    return Response(error.status, "application/json", error.body(), headers)


@app.exception_handler(Exception)
def unexpected_error(error: Exception) -> Response:
    record = _record()
    record.failure = error  # logged with its stack trace
    internal = OptimizerError("something went wrong on our side; it has been logged")
    record.error = internal
    return Response(
        internal.status,
        "application/json",
        internal.body(),
        {"Cache-Control": SERVER_ERROR_CACHE_CONTROL},
    )


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request_context = event.get("requestContext", {})
    # CloudFront's id for the request ties our record to its logs; without CloudFront, Lambda's.
    # (Read directly: a JMESPath `correlation_id_path` costs a cached request ~30 us.)
    headers = event.get("headers") or {}
    logger.set_correlation_id(headers.get("x-amz-cf-id") or request_context.get("requestId"))
    http = request_context.get("http", {})
    record = RequestRecord(method=http.get("method", ""), path=event.get("rawPath", ""))
    app.append_context(record=record)
    response = app.resolve(event, context)
    publish(record, response["statusCode"])
    count_cold_start(context)
    return response


def _deadline() -> float:
    """When to give up making an image: the invocation's time less a margin to answer in."""
    remaining_ms = app.lambda_context.get_remaining_time_in_millis()
    return time.monotonic() + (remaining_ms - settings().response_margin_ms) / 1000


def _record() -> RequestRecord:
    record: RequestRecord = app.context["record"]
    return record


def _image_response(
    served: Served, cache_control: str, *, vary_accept: bool, if_none_match: str | None, head: bool
) -> Response:
    image = served.image
    headers = {"X-Cache": served.cache_status, "Server-Timing": _server_timing(served)}
    if vary_accept:
        headers["Vary"] = "Accept"
    if image.elsewhere is not None:
        # Too large to send: the results store serves it. The redirect may be kept only as
        # long as what it points at.
        until = image.elsewhere.until
        if math.isfinite(until):
            cache_control = _lasting_at_most(cache_control, int(until - time.time()))
        headers["Cache-Control"] = cache_control
        headers["Location"] = image.elsewhere.location
        return Response(HTTPStatus.FOUND, None, b"", headers)
    if len(image.body) > MAX_BODY_BYTES:  # made elsewhere with a larger limit, then cached
        raise OutputTooLarge.beyond(MAX_BODY_BYTES)
    headers.update({"Cache-Control": cache_control, "ETag": image.etag})
    if _matches(if_none_match, image.etag):
        return Response(HTTPStatus.NOT_MODIFIED, None, b"", headers)
    headers["Content-Length"] = str(len(image.body))
    return Response(HTTPStatus.OK, image.content_type, b"" if head else image.body, headers)


def _lasting_at_most(cache_control: str, seconds: int) -> str:
    """``cache_control`` with its lifetimes cut to ``seconds``: an answer that stops being right
    then (to a signed URL that expires, or pointing at a stored result that will be gone) must
    not be served by CloudFront or a browser after that."""
    seconds = max(0, seconds)
    capped = _LIFETIME.sub(lambda match: f"{match[1]}={min(int(match[2]), seconds)}", cache_control)
    return capped if _MAX_AGE.search(capped) else f"{capped}, max-age={seconds}"


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


def _server_timing(served: Served) -> str:
    stages = [f"{name};dur={ms:.1f}" for name, ms in served.timings.items()]
    return ", ".join([*stages, f"total;dur={served.total_ms:.1f}"])


def _path_is_encoded(event: dict[str, Any]) -> bool:
    """Function URLs pass the path percent-encoded; API Gateway HTTP APIs decode it first."""
    domain = str(event.get("requestContext", {}).get("domainName", ""))
    return ".lambda-url." in domain


def _error_cache_control(status: int) -> str:
    return SERVER_ERROR_CACHE_CONTROL if status >= 500 else CLIENT_ERROR_CACHE_CONTROL
