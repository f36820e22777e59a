"""S3 failing in the ways it does, between the handler and moto's server.

A proxy on loopback forwards to moto's S3 server, or misbehaves: throttles (503 SlowDown),
fails (500), answers too slowly, or drops the connection. Every case is a 503 with
Retry-After, after a bounded number of attempts, and never cached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conftest import error_of, get
from faulty_s3 import FaultyS3

IMAGE = "/images/logos/badge.png?w=40"


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
