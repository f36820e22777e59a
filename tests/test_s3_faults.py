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
from urllib.parse import urlsplit

import pytest

from conftest import error_of, get

IMAGE = "/images/logos/badge.png?w=40"
SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
INTERNAL = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>"
)


class FaultyS3:
    def __init__(self, upstream: str) -> None:
        self.mode = "pass"
        self.requests = 0
        self.seen: list[str] = []
        target = urlsplit(upstream)
        faults = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                return

            def _any(self) -> None:
                faults.requests += 1
                faults.seen.append(f"{self.command} {self.path}")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if faults.mode == "drop":
                    self.connection.close()  # no status line at all
                    return
                if faults.mode in ("throttle", "error"):
                    status, payload = (
                        (503, SLOW_DOWN) if faults.mode == "throttle" else (500, INTERNAL)
                    )
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


@pytest.mark.parametrize("mode", ["throttle", "error", "slow", "drop"])
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
