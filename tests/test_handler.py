"""The handler end to end: real-shaped events, S3 over HTTP (moto's server), the HTTP contract."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from conftest import BUCKET, PREFIX, decoded, error_of, get, invoke_event, load_event
from image_optimizer import __version__, app
from image_optimizer.cache import CachedImage, cache_key
from image_optimizer.request import parse_query
from image_optimizer.service import entity_tag
from image_optimizer_cli.lambda_events import LocalContext, function_url_event
from images import encode, gradient


@pytest.fixture(autouse=True)
def _s3(s3_handler: Callable[..., None]) -> None:
    """Every test here reads from the test bucket unless it configures otherwise."""


def test_the_sample_function_url_event_gives_a_webp_400_wide() -> None:
    response = invoke_event(load_event("function-url-get.json"))
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is True
    headers = response["headers"]
    assert headers["Content-Type"] == "image/webp"
    assert headers["Cache-Control"] == "public, max-age=86400"
    assert headers["ETag"].startswith('"')
    assert headers["ETag"].endswith('"')
    assert headers["X-Cache"] == "miss"
    assert "decode;dur=" in headers["Server-Timing"]
    assert "total;dur=" in headers["Server-Timing"]
    image = decoded(response)
    assert image.format == "WEBP"
    assert image.width == 400
    assert int(headers["Content-Length"]) == len(base64.b64decode(response["body"]))


def test_the_sample_http_api_event_gives_an_upright_avif_square() -> None:
    response = invoke_event(load_event("http-api-get.json"))
    assert response["statusCode"] == 200
    image = decoded(response)
    assert image.format == "AVIF"
    assert image.size == (300, 300)
    # the arrow in the sample points up once EXIF orientation 6 is applied: red above centre
    top = image.crop((140, 40, 160, 80)).convert("RGB").resize((1, 1)).getpixel((0, 0))
    assert top[0] > 150
    assert top[1] < 120


def test_the_sample_missing_image_event_is_404() -> None:
    response = invoke_event(load_event("function-url-not-found.json"))
    assert response["statusCode"] == 404
    assert error_of(response)["code"] == "image_not_found"
    assert response["headers"]["Cache-Control"] == "public, max-age=60"


def test_the_sample_bad_parameter_event_is_400_naming_w() -> None:
    response = invoke_event(load_event("function-url-bad-parameter.json"))
    assert response["statusCode"] == 400
    error = error_of(response)
    assert error == {
        "code": "invalid_parameter",
        "message": "w must be an integer from 1 to 4096, got 'abc'",
        "parameter": "w",
    }


def test_the_sample_head_event_negotiates_the_format_and_sends_no_body() -> None:
    response = invoke_event(load_event("function-url-head-auto-format.json"))
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "image/avif"
    assert response["headers"]["Vary"] == "Accept"
    assert int(response["headers"]["Content-Length"]) > 0
    assert base64.b64decode(response["body"]) == b""


def test_head_answers_like_get_without_the_body() -> None:
    head = get("/images/logos/badge.png?w=100", "HEAD")
    full = get("/images/logos/badge.png?w=100")
    assert head["headers"]["ETag"] == full["headers"]["ETag"]
    assert head["headers"]["Content-Length"] == full["headers"]["Content-Length"]
    for target in ("/images/no/such.jpg", "/images/a.jpg?w=abc", "/health"):
        head, full = get(target, "HEAD"), get(target)
        assert (head["statusCode"], head["headers"]) == (full["statusCode"], full["headers"])
        assert (head["body"], bool(full["body"])) == ("", True), target


def test_format_auto_without_avif_or_webp_keeps_the_source_format() -> None:
    response = get("/images/logos/badge.png?w=64&format=auto", accept="*/*")
    assert response["headers"]["Content-Type"] == "image/png"
    assert response["headers"]["Vary"] == "Accept"
    assert decoded(response).mode == "RGBA"


def test_no_vary_header_without_format_auto() -> None:
    assert "Vary" not in get("/images/logos/badge.png?w=64&format=webp")["headers"]


def test_an_unchanged_image_is_304() -> None:
    first = get("/images/landscapes/main.jpg?w=120")
    etag = first["headers"]["ETag"]
    again = get("/images/landscapes/main.jpg?w=120", **{"if-none-match": etag})
    assert again["statusCode"] == 304
    assert again["headers"]["ETag"] == etag
    assert base64.b64decode(again["body"] or "") == b""
    for listed in (f'"x", W/{etag}', f'"x",{etag}', "*"):
        answer = get("/images/landscapes/main.jpg?w=120", **{"if-none-match": listed})
        assert answer["statusCode"] == 304, listed
    other = get("/images/landscapes/main.jpg?w=120", **{"if-none-match": '"stale"'})
    assert other["statusCode"] == 200


def test_the_same_output_has_the_same_etag_and_another_output_another() -> None:
    first = get("/images/landscapes/main.jpg?w=120&format=jpg")
    second = get("/images/landscapes/main.jpg?format=jpeg&w=120")
    third = get("/images/landscapes/main.jpg?w=121&format=jpeg")
    assert first["headers"]["ETag"] == second["headers"]["ETag"]
    assert first["headers"]["ETag"] != third["headers"]["ETag"]


def test_a_key_with_spaces_and_accents(s3: Any) -> None:
    key = "photos/été à la plage.png"
    s3.put_object(Bucket=BUCKET, Key=PREFIX + key, Body=encode(gradient(), "PNG"))
    encoded = "/images/photos/%C3%A9t%C3%A9%20%C3%A0%20la%20plage.png?w=30"
    assert get(encoded)["statusCode"] == 200
    # API Gateway HTTP APIs hand over the path already decoded
    event = load_event("http-api-get.json")
    event["rawPath"] = f"/images/{key}"
    event["rawQueryString"] = "w=30"
    event["requestContext"]["http"]["path"] = event["rawPath"]
    assert invoke_event(event)["statusCode"] == 200


@pytest.mark.parametrize(
    ("target", "status", "code"),
    [
        ("/images/landscapes/main.jpg?w=400&width=3", 400, "invalid_parameter"),
        ("/images/landscapes/main.jpg?q=200", 400, "invalid_parameter"),
        ("/images/landscapes/main.jpg?format=bmp", 400, "invalid_parameter"),
        ("/images/landscapes/main.jpg?fit=zoom&w=1&h=1", 400, "invalid_parameter"),
        ("/images/landscapes/main.jpg?w=1&w=2", 400, "invalid_parameter"),
        ("/images/landscapes/main.jpg?h=", 400, "invalid_parameter"),
        ("/images/landscapes/../secrets.jpg", 400, "invalid_key"),
        ("/images//etc/passwd", 400, "invalid_key"),
        ("/images/", 400, "invalid_key"),
        ("/images/bad%zz.jpg", 400, "invalid_key"),
        ("/images/nothing/here.jpg", 404, "image_not_found"),
        ("/", 404, "route_not_found"),
        ("/imagesx/a.jpg", 404, "route_not_found"),
    ],
)
def test_bad_requests_get_the_error_the_contract_names(target: str, status: int, code: str) -> None:
    response = get(target)
    assert response["statusCode"] == status
    error = error_of(response)
    assert error["code"] == code
    assert error["message"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405_with_allow(method: str) -> None:
    for target in ("/images/landscapes/main.jpg", "/health"):
        response = get(target, method)
        assert response["statusCode"] == 405
        assert response["headers"]["Allow"] == "GET, HEAD"
        assert error_of(response)["code"] == "method_not_allowed"


def test_health() -> None:
    response = get("/health")
    assert response["statusCode"] == 200
    assert response["body"] == f'{{"status":"ok","version":"{__version__}"}}'  # compact JSON
    assert response["headers"]["Cache-Control"] == "no-store"


def test_the_refusals_say_what_to_do_instead() -> None:
    assert (
        error_of(get("/health", "POST"))["message"] == "POST is not allowed here; use GET or HEAD"
    )
    long = "x" * 300
    assert error_of(get(f"/{long}"))["message"] == (
        f"no route for '/{long[:199]}'; images are at /images/<key>"
    )


def test_a_fault_of_ours_says_only_that(
    s3_handler: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3_handler()

    def broken(*_: object) -> None:
        raise RuntimeError("a bug, with internals in its message")

    monkeypatch.setattr(app.service(), "serve", broken)
    response = get("/images/landscapes/main.jpg?w=100")
    assert response["statusCode"] == 500
    assert response["body"] == (
        '{"error":{"code":"internal_error",'
        '"message":"something went wrong on our side; it has been logged"}}'
    )


@pytest.mark.parametrize(("parameter", "value"), [("s", "abc"), ("expires", "1999999999")])
def test_without_signing_its_parameters_are_unknown(parameter: str, value: str) -> None:
    response = get(f"/images/landscapes/main.jpg?w=50&{parameter}={value}")
    assert response["statusCode"] == 400
    assert error_of(response)["parameter"] == parameter


def test_max_animation_frames_is_configurable(s3_handler: Callable[..., None], s3: Any) -> None:
    frames = [gradient((40, 30)).rotate(angle) for angle in (0, 90, 180)]
    body = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}three-frames.gif", Body=body)
    s3_handler(MAX_ANIMATION_FRAMES="2")
    response = get("/images/three-frames.gif?format=webp")
    assert response["statusCode"] == 413
    assert error_of(response)["code"] == "too_many_frames"
    s3_handler(MAX_ANIMATION_FRAMES="3")
    assert get("/images/three-frames.gif?format=webp")["statusCode"] == 200


def test_a_source_over_max_source_bytes_is_413(s3_handler: Callable[..., None]) -> None:
    s3_handler(MAX_SOURCE_BYTES="100000")
    response = get("/images/landscapes/main.jpg?w=100")
    assert response["statusCode"] == 413
    assert error_of(response)["code"] == "source_too_large"


def test_a_source_over_max_source_pixels_is_413(s3_handler: Callable[..., None]) -> None:
    s3_handler(MAX_SOURCE_PIXELS="1000000")
    response = get("/images/landscapes/main.jpg?w=100")
    assert response["statusCode"] == 413
    assert error_of(response)["code"] == "image_too_large"


def test_max_dimension_is_configurable(s3_handler: Callable[..., None]) -> None:
    s3_handler(MAX_DIMENSION="500")
    response = get("/images/landscapes/main.jpg?w=501")
    assert error_of(response)["message"] == "w must be an integer from 1 to 500, got '501'"


def test_allow_lists_are_configurable(s3_handler: Callable[..., None]) -> None:
    s3_handler(ALLOWED_WIDTHS="200,400", ALLOWED_QUALITIES="60")
    assert get("/images/logos/badge.png?w=400&q=60&format=webp")["statusCode"] == 200
    refused = error_of(get("/images/logos/badge.png?w=300"))
    assert refused["message"] == "w must be one of 200, 400, got '300'"


def test_cache_control_is_configurable(s3_handler: Callable[..., None]) -> None:
    s3_handler(CACHE_CONTROL="public, max-age=31536000, immutable")
    response = get("/images/logos/badge.png?w=10")
    assert response["headers"]["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        (b"this is not an image at all", "unsupported_image", 415),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "corrupt_image", 422),
    ],
)
def test_a_source_that_is_not_a_decodable_image(
    s3: Any, body: bytes, code: str, status: int
) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}broken/{code}.jpg", Body=body)
    response = get(f"/images/broken/{code}.jpg?w=100")
    assert response["statusCode"] == status
    assert error_of(response)["code"] == code


def test_an_output_too_big_for_a_lambda_response_is_413(s3: Any) -> None:
    noise = Image.effect_noise((1600, 1600), 128).convert("RGB")
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}noise.png", Body=encode(noise, "PNG"))
    response = get("/images/noise.png?format=png")
    assert response["statusCode"] == 413
    error = error_of(response)
    assert error["code"] == "output_too_large"
    assert "smaller w or h" in error["message"]
    assert len(json.dumps(response)) < 6 * 1024 * 1024


def test_every_success_fits_in_a_lambda_response() -> None:
    assert app.MAX_BODY_BYTES * 4 / 3 < app.LAMBDA_RESPONSE_LIMIT - 16 * 1024


def test_an_unreachable_s3_is_503_without_internals(
    s3_handler: Callable[..., None], monkeypatch: pytest.MonkeyPatch, refused_port: int
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{refused_port}")
    s3_handler()
    response = get("/images/landscapes/main.jpg?w=100")
    assert response["statusCode"] == 503
    assert error_of(response)["code"] == "source_unavailable"
    assert response["headers"]["Cache-Control"] == "no-store"
    assert "127.0.0.1" not in response["body"]


def test_a_missing_bucket_is_our_fault_500_without_internals(
    s3_handler: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3_handler()
    monkeypatch.setenv("SOURCE_BUCKET", "no-such-bucket")
    app.settings.cache_clear()
    app.service.cache_clear()
    response = get("/images/landscapes/main.jpg?w=100")
    assert response["statusCode"] == 500
    assert error_of(response)["code"] == "internal_error"
    assert response["headers"]["Cache-Control"] == "no-store"
    assert "no-such-bucket" not in response["body"]


def cached(target: str, body: bytes) -> None:
    """Put an answer for ``target`` in the container's cache, as another container might have."""
    path, _, query = target.partition("?")
    configured = app.settings()
    spec = parse_query(query, None, configured.max_dimension)
    entry = cache_key(path.removeprefix("/images/"), spec)
    claim = app.service().cache.claim(entry, time.monotonic() + 5)
    claim.store(CachedImage(body, "image/png", entity_tag(body), 1, 1))


def test_the_largest_answer_is_exactly_the_documented_limit(
    s3_handler: Callable[..., None],
) -> None:
    s3_handler(MEMORY_CACHE_BYTES=str(16 * 1024 * 1024))
    assert app.MAX_BODY_BYTES == 4_669_440  # the README's number
    cached("/images/limit.png?w=1", b"\x00" * app.MAX_BODY_BYTES)
    assert get("/images/limit.png?w=1")["statusCode"] == 200
    cached("/images/limit.png?w=2", b"\x00" * (app.MAX_BODY_BYTES + 1))
    response = get("/images/limit.png?w=2")
    assert response["statusCode"] == 413
    assert error_of(response)["message"] == (
        "the result is more than the 4669440 bytes a response can carry; "
        "ask for a smaller w or h, or a lossy format"
    )


def test_a_result_too_large_to_send_is_not_kept_in_the_cache(
    s3: Any, s3_handler: Callable[..., None]
) -> None:
    s3_handler(MEMORY_CACHE_BYTES=str(64 * 1024 * 1024))
    noise = Image.effect_noise((1600, 1600), 128).convert("RGB")
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}noise.png", Body=encode(noise, "PNG"))
    assert get("/images/noise.png?format=png")["statusCode"] == 413
    again = get("/images/noise.png?format=png")
    assert again["statusCode"] == 413
    assert "cache" not in again["headers"].get("Server-Timing", "")  # made again, not kept


def test_server_timing_lists_each_stage_then_the_total() -> None:
    timing = get("/images/landscapes/main.jpg?w=77")["headers"]["Server-Timing"]
    stages = [item.split(";dur=")[0] for item in timing.split(", ")]
    assert stages == [
        "cache",
        "wait",
        "fetch",
        "decode",
        "resize",
        "colour",
        "encode",
        "store",
        "total",
    ]  # no blur, sharpen or watermark asked: no stage for them
    assert re.fullmatch(r"([a-z]+;dur=\d+\.\d, )+total;dur=\d+\.\d", timing)


def test_the_time_budget_holds_while_the_image_is_being_made(
    s3_handler: Callable[..., None],
) -> None:
    """50 ms left after the margin, for a job of seconds (a 12 MP photo as a 5 MP AVIF, whose
    decoding alone takes longer): the request gives up before the encoder, with a 503."""
    s3_handler(RESPONSE_MARGIN_MS="1000")
    target = "/images/corpus/phone-12mp-orient6-icc.jpg?w=2000&format=avif"
    event = function_url_event("GET", target, [])
    response = app.lambda_handler(event, LocalContext(timeout_seconds=1.05))
    assert response["statusCode"] == 503
    assert error_of(response)["code"] == "time_budget_exceeded"


def test_an_avif_too_costly_to_encode_is_refused_before_decoding(
    s3_handler: Callable[..., None],
) -> None:
    """12 MP as AVIF (seconds of encoding) is refused; 5 MP is made."""
    s3_handler()
    response = get("/images/corpus/phone-12mp-orient6-icc.jpg?format=avif")
    assert response["statusCode"] == 413
    assert error_of(response) == {
        "code": "output_too_large",
        "message": "12.2 MP of AVIF is more than the 8.0 MP this service encodes in that format; "
        "ask for a smaller w or h, or another format",
    }
    assert get("/images/corpus/phone-12mp-orient6-icc.jpg?format=avif&w=2000")["statusCode"] == 200


def test_each_request_counts_only_its_own_cache_errors(
    s3_handler: Callable[..., None], refused_port: int, log_lines: Callable[[], list[Any]]
) -> None:
    s3_handler(REDIS_URL=f"redis://127.0.0.1:{refused_port}/0", REDIS_COOLDOWN_SECONDS="0")
    get("/images/landscapes/main.jpg?w=78")
    get("/images/landscapes/main.jpg?w=79")
    first, second = [r["cache_errors"] for r in log_lines() if r.get("message") == "request"]
    assert first == second > 0
