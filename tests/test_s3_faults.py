"""S3 failing in the ways it does, between the handler and moto's server.

A proxy on loopback forwards to moto's S3 server, or misbehaves: throttles (503 SlowDown),
fails (500), answers too slowly, or drops the connection. Every case is a 503 with
Retry-After, after a bounded number of attempts, and never cached.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import error_of, get

IMAGE = "/images/logos/badge.png?w=40"


def s3_error(code: str, message: str) -> bytes:
    """An error body as S3 writes it."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"
    ).encode()


# Replies the proxy gives instead of forwarding, by mode: what S3 answers in each case.
CANNED = {
    "throttle": (503, s3_error("SlowDown", "Please reduce your request rate.")),
    "unavailable": (503, s3_error("ServiceUnavailable", "Please reduce your request rate.")),
    "error": (500, s3_error("InternalError", "We encountered an internal error.")),
    # Without s3:ListBucket, S3 answers a GET of a missing key with this rather than a 404.
    "deny": (403, s3_error("AccessDenied", "Access Denied")),
}


class FaultyS3:
    def __init__(self, upstream: str) -> None:
        self.mode = "pass"
        self.requests = 0
        self.connections = 0
        self.seen: list[str] = []
        self.authorizations: list[str] = []
        self.tokens: list[str | None] = []
        target = urlsplit(upstream)
        faults = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                return

            def setup(self) -> None:
                faults.connections += 1
                super().setup()

            def _any(self) -> None:
                faults.requests += 1
                faults.seen.append(f"{self.command} {self.path}")
                faults.authorizations.append(self.headers.get("Authorization", ""))
                faults.tokens.append(self.headers.get("X-Amz-Security-Token"))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if faults.mode == "drop":
                    self.connection.close()  # no status line at all
                    return
                if faults.mode in CANNED:
                    status, payload = CANNED[faults.mode]
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if faults.mode == "slow":
                    time.sleep(1.5)
                upstream_connection = http.client.HTTPConnection(target.hostname, target.port)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = target.netloc
                upstream_connection.request(self.command, self.path, body or None, headers)
                reply = upstream_connection.getresponse()
                payload = reply.read()
                self.send_response(reply.status)
                for name, value in reply.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_HEAD = do_PUT = do_POST = _any  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def faulty_s3(
    s3_endpoint: str, s3_handler: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultyS3]:
    proxy = FaultyS3(s3_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
    s3_handler(S3_READ_TIMEOUT_SECONDS="0.5", S3_CONNECT_TIMEOUT_SECONDS="0.5", S3_MAX_ATTEMPTS="3")
    yield proxy
    proxy.server.shutdown()


def test_the_proxy_itself_passes_requests(faulty_s3: FaultyS3) -> None:
    assert get(IMAGE)["statusCode"] == 200
    assert faulty_s3.requests == 1


@pytest.mark.parametrize("mode", ["throttle", "unavailable", "error", "slow", "drop"])
def test_s3_faults_are_503_after_bounded_retries(faulty_s3: FaultyS3, mode: str) -> None:
    faulty_s3.mode = mode
    response = get(IMAGE)
    assert response["statusCode"] == 503
    assert error_of(response)["code"] == "source_unavailable"
    assert response["headers"]["Retry-After"] == "1"
    assert response["headers"]["Cache-Control"] == "no-store"
    assert faulty_s3.requests == 3, faulty_s3.seen  # S3_MAX_ATTEMPTS, then it gives up


def test_service_resumes_when_s3_recovers(faulty_s3: FaultyS3) -> None:
    faulty_s3.mode = "throttle"
    assert get(IMAGE)["statusCode"] == 503
    faulty_s3.mode = "pass"
    assert get(IMAGE)["statusCode"] == 200


def test_access_denied_is_a_404_that_the_log_tells_apart(
    faulty_s3: FaultyS3, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    faulty_s3.mode = "deny"
    response = get(IMAGE)
    assert response["statusCode"] == 404
    assert error_of(response)["code"] == "image_not_found"
    assert faulty_s3.requests == 1  # not retried: a denial is an answer
    assert "access" not in response["body"]  # the client is told no more than for a missing key
    [record] = [line for line in log_lines() if line.get("message") == "request"]
    assert record["error_reason"] == "s3_access_denied"


def test_a_missing_key_is_a_404_from_s3_itself(
    faulty_s3: FaultyS3, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    response = get("/images/no/such/image.jpg?w=40")
    assert response["statusCode"] == 404
    [record] = [line for line in log_lines() if line.get("message") == "request"]
    assert record["error_reason"] == "s3_no_such_key"
