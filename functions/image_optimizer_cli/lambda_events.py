"""What Lambda hands the handler: Function URL events (payload 2.0) and a context object.

The events are shaped as a real Function URL behind CloudFront delivers them (path still
percent-encoded, headers in lower case, repeated headers joined with commas), so the handler
cannot tell the local server from AWS.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

LOCAL_URL_ID = "local0000000000000000000000000000"
REGION = "us-east-1"


def function_url_event(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes = b"",
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The event for one HTTP request; ``target`` is the request line's path and query."""
    path, _, query = target.partition("?")
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        name = name.lower()
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            joined[name] = f"{joined[name]},{value}" if name in joined else value
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": joined,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": LOCAL_URL_ID,
            "domainName": f"{LOCAL_URL_ID}.lambda-url.{REGION}.on.aws",
            "domainPrefix": LOCAL_URL_ID,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": bool(body),
    }
    if query:
        # As Lambda does: repeated parameters joined with commas (the handler reads the raw query).
        params: dict[str, str] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            params[name] = f"{params[name]},{value}" if name in params else value
        event["queryStringParameters"] = params
    if cookies:
        event["cookies"] = cookies
    if body:
        event["body"] = base64.b64encode(body).decode("ascii")
    return event


@dataclass
class LocalContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    timeout_seconds: float = 30.0
    function_name: str = "image-optimizer-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1769
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/image-optimizer-local"
    log_stream_name: str = "local"
    _deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def response_body(response: dict[str, Any]) -> bytes:
    """The body bytes of a handler's response, base64 undone where Lambda would undo it."""
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode("utf-8")


# The functions of the stack, by the handler template.yaml names for each.
IMAGE_FUNCTION = "image_optimizer.app.lambda_handler"
PURGE_FUNCTION = "image_optimizer.purge.lambda_handler"
INVALIDATION_FUNCTION = "image_optimizer.invalidation.lambda_handler"


def function_for(event: object) -> str:
    """Which of the stack's functions takes ``event``: an HTTP request is the image function's;
    an SQS batch of S3 events (through EventBridge) the purge function's; an SQS batch of
    purged originals the invalidation function's. ValueError says why it is none of them."""
    if not isinstance(event, dict):
        raise ValueError(f"an event is a JSON object, not {type(event).__name__}")
    if isinstance(event.get("requestContext"), dict) and "rawPath" in event:
        return IMAGE_FUNCTION
    records = event.get("Records")
    first = records[0] if isinstance(records, list) and records else None
    if isinstance(first, dict) and first.get("eventSource") == "aws:sqs":
        try:
            body = json.loads(str(first.get("body")))
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("source") == "aws.s3":
            return PURGE_FUNCTION
        if isinstance(body, dict) and "keys" in body:
            return INVALIDATION_FUNCTION
    raise ValueError(
        "not an event of this stack's functions: a Function URL or HTTP API request "
        "(payload 2.0), or an SQS batch for the purge or the invalidation function"
    )
