"""FALLBACK_KEY (a missing original answers 404 with a placeholder image made as asked) and
CORS_ALLOW_ORIGIN (images readable by pages of other origins), through the handler, from S3 with
Redis, and through the local server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import decoded, error_of, get
from image_optimizer.settings import ConfigurationError, Settings
from local_server import fetch, start_server

FALLBACK = "logos/badge.png"


def test_a_missing_original_is_a_404_with_the_fallback_made_as_asked(
    s3_handler: Callable[..., None], redis_url: str, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    s3_handler(FALLBACK_KEY=FALLBACK, REDIS_URL=redis_url)
    answer = get("/images/nosuch/photo.jpg?w=120&format=webp")
    assert answer["statusCode"] == 404
    assert answer["headers"]["Content-Type"] == "image/webp"
    assert answer["headers"]["Cache-Control"] == "public, max-age=60"  # a 404's lifetime
    assert decoded(answer).width == 120
    # The fallback's variants are its own entries: another missing original finds them.
    again = get("/images/another/missing.jpg?w=120&format=webp")
    assert again["headers"]["X-Cache"] == "hit"
    assert again["body"] == answer["body"]
    record = log_lines()[0]
    assert (record["status"], record["fallback"], record["key"]) == (404, True, "nosuch/photo.jpg")
    head = get("/images/nosuch/photo.jpg?w=120&format=webp", method="HEAD")
    assert (head["statusCode"], head["body"]) == (404, "")


def test_an_original_that_is_there_is_served_as_ever(s3_handler: Callable[..., None]) -> None:
    s3_handler(FALLBACK_KEY=FALLBACK)
    answer = get("/images/landscapes/main.jpg?w=120", **{"if-none-match": "*"})
    assert answer["statusCode"] == 304
    assert get("/images/landscapes/main.jpg?w=120")["statusCode"] == 200


def test_a_missing_fallback_is_the_originals_plain_404(s3_handler: Callable[..., None]) -> None:
    s3_handler(FALLBACK_KEY="no/such/fallback.png")
    answer = get("/images/nosuch/photo.jpg?w=120")
    assert answer["statusCode"] == 404
    assert error_of(answer)["code"] == "image_not_found"
    assert "nosuch/photo.jpg" in error_of(answer)["message"]


def test_a_fallback_key_must_be_a_key() -> None:
    with pytest.raises(ConfigurationError, match="FALLBACK_KEY"):
        Settings.from_env({"SOURCE_BUCKET": "b", "FALLBACK_KEY": "a/../b.png"})


def test_the_local_server_serves_the_fallback(clean_env: dict[str, str], tmp_path: Path) -> None:
    process, base = start_server(env={**clean_env, "FALLBACK_KEY": FALLBACK})
    try:
        status, headers, body = fetch(f"{base}/images/nosuch.jpg?w=64&format=png")
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert (status, headers["content-type"]) == (404, "image/png")
    assert body.startswith(b"\x89PNG")


def test_any_origin(s3_handler: Callable[..., None]) -> None:
    s3_handler(CORS_ALLOW_ORIGIN="*")
    for target in ("/images/landscapes/main.jpg?w=50", "/images/landscapes/main.jpg?w=abc"):
        answer = get(target, origin="https://elsewhere.example")
        assert answer["headers"]["Access-Control-Allow-Origin"] == "*"
        assert "Vary" not in answer["headers"]  # the same answer for everyone
    assert "Access-Control-Allow-Origin" not in get("/health")["headers"]  # images only


def test_a_list_of_origins_answers_each_its_own_and_varies(
    s3_handler: Callable[..., None],
) -> None:
    s3_handler(CORS_ALLOW_ORIGIN="https://www.example.com, http://localhost:3000")
    listed = get("/images/landscapes/main.jpg?w=50", origin="http://localhost:3000")
    assert listed["headers"]["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert listed["headers"]["Vary"] == "Origin"
    other = get("/images/landscapes/main.jpg?w=50", origin="https://evil.example")
    assert "Access-Control-Allow-Origin" not in other["headers"]
    assert other["headers"]["Vary"] == "Origin"
    negotiated = get(
        "/images/landscapes/main.jpg?w=50&format=auto",
        origin="https://www.example.com",
        accept="image/webp",
    )
    assert negotiated["headers"]["Vary"] == "Accept, Origin"


def test_without_the_setting_there_are_no_cors_headers(s3_handler: Callable[..., None]) -> None:
    answer = get("/images/landscapes/main.jpg?w=50", origin="https://www.example.com")
    assert not any(name.startswith("Access-Control") for name in answer["headers"])


@pytest.mark.parametrize(
    "value", ["www.example.com", "https://example.com/path", "*, https://a.example", "https://"]
)
def test_a_bad_origin_list_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match="CORS_ALLOW_ORIGIN"):
        Settings.from_env({"SOURCE_BUCKET": "b", "CORS_ALLOW_ORIGIN": value})


def test_settings_read_both() -> None:
    settings = Settings.from_env(
        {"SOURCE_BUCKET": "b", "CORS_ALLOW_ORIGIN": "https://a.example:8443", "FALLBACK_KEY": "x"}
    )
    assert settings.cors_allow_origin == ("https://a.example:8443",)
    assert settings.fallback_key == "x"
