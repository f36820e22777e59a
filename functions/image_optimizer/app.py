"""The Lambda handler: a Function URL or HTTP API (payload 2.0) event in, a response out.

HTTP concerns only: routing, parsing the request into a key and a `TransformSpec`, and turning
the service's answer (or its `OptimizerError`) into status, headers and a base64 body. The service
is built once per container, on the first request that needs it.

Routes: ``GET|HEAD /images/{key+}`` and ``GET|HEAD /health``; anything else is a JSON 404 or 405.
Two routes over five fields of the event are read here rather than through powertools' event
handler or data classes: their packages import every resolver and every event class they have
(about 80 and 17 ms of a new container's first answer, the cold-start benchmark). Powertools
still writes the log record and the metrics.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
from functools import cache
from http import HTTPStatus
from typing import Any, NamedTuple

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_optimizer import __version__
from image_optimizer.errors import MethodNotAllowed, OptimizerError, OutputTooLarge, RouteNotFound
from image_optimizer.observability import RequestRecord, count_cold_start, logger, publish
from image_optimizer.request import (
    IMAGES_PREFIX,
    canonical_query,
    parse_key,
    split_query,
    transform_spec,
)
from image_optimizer.service import ImageService, Served
from image_optimizer.settings import UNSIGNED_NONE, ConfigurationError, Settings
from image_optimizer.signing import SIGNING_PARAMETERS, check_unsigned, stored_secret, verify

ALLOWED_METHODS = ("GET", "HEAD")
HEALTH_PATH = "/health"
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
_HEADROOM = 64 * 1024  # status, headers and JSON framing around the body
MAX_BODY_BYTES = (LAMBDA_RESPONSE_LIMIT - _HEADROOM) // 4 * 3  # base64 turns 3 bytes into 4
CLIENT_ERROR_CACHE_CONTROL = "public, max-age=60"
SERVER_ERROR_CACHE_CONTROL = "no-store"
_JSON = "application/json"
_LIFETIME = re.compile(r"\b(max-age|s-maxage)=([0-9]+)", re.IGNORECASE)
_MAX_AGE = re.compile(r"\bmax-age=", re.IGNORECASE)
# Serving a stale copy past the lifetime is what a capped lifetime forbids.
_STALE = re.compile(r"\s*,?\s*\bstale-(while-revalidate|if-error)=[0-9]+", re.IGNORECASE)


class Request(NamedTuple):
    """What the handler reads of a Function URL or HTTP API (payload format 2.0) event."""

    method: str  # upper case
    path: str  # as sent: percent-encoded from a Function URL, decoded by an HTTP API
    query: str  # the raw query string, still percent-encoded
    headers: dict[str, str]  # names in lower case, as both deliver them
    path_is_encoded: bool

    @classmethod
    def of(cls, event: dict[str, Any]) -> Request:
        context = event.get("requestContext") or {}
        return cls(
            method=str((context.get("http") or {}).get("method") or "").upper(),
            path=str(event.get("rawPath") or ""),
            query=str(event.get("rawQueryString") or ""),
            headers={str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()},
            # Function URLs pass the path percent-encoded; API Gateway HTTP APIs decode it.
            path_is_encoded=".lambda-url." in str(context.get("domainName") or ""),
        )


class Response(NamedTuple):
    status: int
    headers: dict[str, str]  # its own: the CORS step adds to it
    body: bytes | str = b""  # bytes go out base64-encoded, text (JSON) as it is

    @classmethod
    def json(cls, status: int, content: object, headers: dict[str, str]) -> Response:
        text = json.dumps(content, separators=(",", ":"))
        return cls(status, {**headers, "Content-Type": _JSON}, text)

    def for_lambda(self, *, head: bool) -> dict[str, Any]:
        """The response as Lambda takes it from a Function URL or HTTP API handler; a HEAD
        answer keeps every header and drops the body."""
        binary = isinstance(self.body, bytes)
        body = b"" if head else self.body
        return {
            "statusCode": self.status,
            "headers": self.headers,
            "body": base64.b64encode(body).decode("ascii") if isinstance(body, bytes) else body,
            "isBase64Encoded": binary,
        }


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


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = Request.of(event)
    # CloudFront's id for the request ties our record to its logs; without CloudFront, Lambda's.
    # (Read directly: a JMESPath `correlation_id_path` costs a cached request ~30 us.)
    logger.set_correlation_id(
        request.headers.get("x-amz-cf-id") or (event.get("requestContext") or {}).get("requestId")
    )
    record = RequestRecord(method=request.method, path=request.path)
    response = respond(request, context, record)
    publish(record, response["statusCode"])
    count_cold_start(context)
    return response


def respond(request: Request, context: LambdaContext, record: RequestRecord) -> dict[str, Any]:
    """The answer to ``request``, with what happened noted on ``record`` (not yet written)."""
    try:
        response = _route(request, context, record)
    except OptimizerError as error:
        record.error = error  # logged with its code and no stack trace: an answer, not a bug
        response = _error_response(error)
    except Exception as error:
        record.failure = error  # logged with its stack trace
        internal = OptimizerError("something went wrong on our side; it has been logged")
        record.error = internal
        response = _error_response(internal)
    if request.path.startswith(IMAGES_PREFIX):
        _allow_origin(response, request.headers.get("origin"))
    return response.for_lambda(head=request.method == "HEAD")


def _allow_origin(response: Response, origin: str | None) -> None:
    """CORS_ALLOW_ORIGIN's header on an image answer (errors included, so that a page's script
    can read why), for a canvas or ``crossorigin`` to use the image. With a list, the answer
    depends on the request's Origin, and says so."""
    try:
        allowed = settings().cors_allow_origin
    except ConfigurationError:
        return  # the answer is already the 500 that says so
    if not allowed:
        return
    if allowed == ("*",):
        response.headers["Access-Control-Allow-Origin"] = "*"
        return
    if origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
    vary = response.headers.get("Vary")
    response.headers["Vary"] = f"{vary}, Origin" if vary else "Origin"


def _route(request: Request, context: LambdaContext, record: RequestRecord) -> Response:
    path = request.path
    if path != HEALTH_PATH and not path.startswith(IMAGES_PREFIX):
        raise RouteNotFound(f"no route for {path[:200]!r}; images are at /images/<key>")
    if request.method not in ALLOWED_METHODS:
        raise MethodNotAllowed(
            f"{request.method} is not allowed here; use {' or '.join(ALLOWED_METHODS)}"
        )
    if path == HEALTH_PATH:
        body = {"status": "ok", "version": __version__}
        return Response.json(HTTPStatus.OK, body, {"Cache-Control": "no-store"})
    return _image(request, context, record)


def _image(request: Request, context: LambdaContext, record: RequestRecord) -> Response:
    headers = request.headers
    key = parse_key(request.path[len(IMAGES_PREFIX) :], percent_encoded=request.path_is_encoded)
    configured, secret = settings(), signing_secret()
    dimension, allowed, presets = (
        configured.max_dimension,
        configured.allowed_values,
        configured.presets,
    )
    params = split_query(request.query, SIGNING_PARAMETERS if secret else ())
    transform = {name: value for name, value in params.items() if name not in SIGNING_PARAMETERS}
    query = canonical_query(transform, dimension, allowed, presets)
    spec = transform_spec(query, headers.get("accept"), presets)
    expires = None
    signs = not params.keys().isdisjoint(SIGNING_PARAMETERS)
    if secret and (signs or configured.unsigned_urls == UNSIGNED_NONE):
        expires = verify(
            secret, key, request.query, max_dimension=dimension, allowed=allowed, presets=presets
        )
    else:
        check_unsigned(configured.unsigned_urls, query, presets)
    served = service().serve(key, spec, _deadline(context))
    record.served = served
    cache_control = configured.cache_control
    if expires is not None:
        cache_control = _lasting_at_most(cache_control, expires - int(time.time()))
    return _image_response(
        served,
        cache_control,
        vary_accept=spec.negotiated,
        if_none_match=headers.get("if-none-match"),
    )


def _error_response(error: OptimizerError) -> Response:
    headers = {"Cache-Control": _error_cache_control(error)}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = ", ".join(ALLOWED_METHODS)
    return Response.json(error.status, error.body(), headers)


def _deadline(context: LambdaContext) -> float:
    """When to give up making an image: the invocation's time less a margin to answer in."""
    remaining_ms = context.get_remaining_time_in_millis()
    return time.monotonic() + (remaining_ms - settings().response_margin_ms) / 1000


def _image_response(
    served: Served, cache_control: str, *, vary_accept: bool, if_none_match: str | None
) -> Response:
    image = served.image
    status = HTTPStatus.OK
    if served.missing:  # the fallback image: a 404 for monitoring, kept as briefly as one
        status, cache_control, if_none_match = (
            HTTPStatus.NOT_FOUND,
            CLIENT_ERROR_CACHE_CONTROL,
            None,
        )
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
        return Response(HTTPStatus.FOUND, headers)
    if len(image.body) > MAX_BODY_BYTES:  # made elsewhere with a larger limit, then cached
        raise OutputTooLarge.beyond(MAX_BODY_BYTES)
    headers.update({"Cache-Control": cache_control, "ETag": image.etag})
    if _matches(if_none_match, image.etag):
        return Response(HTTPStatus.NOT_MODIFIED, headers)
    headers.update({"Content-Type": image.content_type, "Content-Length": str(len(image.body))})
    return Response(status, headers, image.body)


def _lasting_at_most(cache_control: str, seconds: int) -> str:
    """``cache_control`` with its lifetimes cut to ``seconds``: an answer that stops being right
    then (to a signed URL that expires, or pointing at a stored result that will be gone) must
    not be served by CloudFront or a browser after that."""
    seconds = max(0, seconds)
    capped = _LIFETIME.sub(lambda match: f"{match[1]}={min(int(match[2]), seconds)}", cache_control)
    capped = _STALE.sub("", capped).strip(" ,")
    return capped if _MAX_AGE.search(capped) else f"{capped}, max-age={seconds}"


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


def _server_timing(served: Served) -> str:
    stages = [f"{name};dur={ms:.1f}" for name, ms in served.timings.items()]
    return ", ".join([*stages, f"total;dur={served.total_ms:.1f}"])


def _error_cache_control(error: OptimizerError) -> str:
    if error.status < 500:
        return CLIENT_ERROR_CACHE_CONTROL
    if error.kept_seconds:
        return f"public, max-age={error.kept_seconds}, s-maxage={error.kept_seconds}"
    return SERVER_ERROR_CACHE_CONTROL
