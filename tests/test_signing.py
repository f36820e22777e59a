"""Signed URLs: signing, verification, expiry, the edge in between, SSM, the CLI."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from conftest import error_of, get
from edge_runner import CHROME, at_the_edge
from image_optimizer.errors import InvalidParameter
from image_optimizer.request import parse_query
from image_optimizer.signing import SignatureRejected, sign_url, verify
from image_optimizer_cli.main import main

SECRET = b"a-long-enough-test-secret"
UNAVAILABLE = {
    "code": "signing_unavailable",
    "message": "signed URLs cannot be checked right now, so nothing is served; try again later",
}


def signed(url: str, expires: int | None = None) -> tuple[str, str]:
    """The key and the raw query of a signed URL."""
    parts = urlsplit(sign_url(url, SECRET, expires))
    return parts.path.removeprefix("/images/"), parts.query


def test_a_signed_url_verifies_and_a_changed_one_does_not() -> None:
    key, query = signed("/images/a/b.jpg?w=400&format=webp")
    assert query.startswith("w=400&format=webp&s=")
    verify(SECRET, key, query)
    for tampered in (query.replace("w=400", "w=401"), query + "&h=2"):
        with pytest.raises(SignatureRejected, match="does not match"):
            verify(SECRET, key, tampered)
    with pytest.raises(SignatureRejected):
        verify(SECRET, "a/other.jpg", query)
    with pytest.raises(SignatureRejected):
        verify(b"another-secret-of-length", key, query)


def rejection(key: str, query: str, now: float | None = None) -> str:
    with pytest.raises(SignatureRejected) as caught:
        verify(SECRET, key, query, now=now)
    return caught.value.message


def test_a_missing_signature() -> None:
    assert rejection("a.jpg", "w=400") == (
        "this service only answers signed URLs; the s parameter is missing"
    )


def test_expiry() -> None:
    now = 1_800_000_000
    key, query = signed("/images/a.jpg?w=10", expires=now + 60)
    assert verify(SECRET, key, query, now=now) == now + 60
    assert verify(SECRET, key, query, now=now + 60) == now + 60  # good through its last second
    assert rejection(key, query, now=now + 60.001) == "this signed URL has expired"
    tampered = query.replace(str(now + 60), str(now + 9999))
    assert rejection(key, tampered, now=now) == "the signature does not match this URL"


def test_a_url_without_parameters_is_signed_with_s_alone() -> None:
    url = sign_url("/images/a.jpg", SECRET)
    assert re.fullmatch(r"/images/a\.jpg\?s=[A-Za-z0-9_-]{43}", url)
    assert verify(SECRET, "a.jpg", urlsplit(url).query) is None


def test_a_signature_survives_the_edge_normalising_the_query() -> None:
    key, query = signed("/images/photos/a%20b.jpg?FORMAT=JPG&W=0400&fit=contain&q=80")
    [edge] = at_the_edge([query], "*/*")
    assert edge == {"query": f"w=400&q=80&format=jpeg&s={query.rsplit('s=', 1)[1]}"}
    assert key == "photos/a%20b.jpg"
    verify(SECRET, "photos/a b.jpg", str(edge["query"]))


def test_a_signature_on_the_newer_parameters_survives_the_edge() -> None:
    _, query = signed("/images/a.jpg?w=0400&h=300&fx=.50&fy=0.250&dpr=1.0&frames=1")
    [edge] = at_the_edge([query], "*/*")
    assert str(edge["query"]).startswith("w=400&h=300&fx=0.5&fy=0.25&frames=1&s=")
    verify(SECRET, "a.jpg", str(edge["query"]))
    _, query = signed("/images/a.jpg?w=4&h=3&position=Entropy")
    [edge] = at_the_edge([query], "*/*")
    assert str(edge["query"]).startswith("w=4&h=3&position=entropy&s=")
    verify(SECRET, "a.jpg", str(edge["query"]))


@pytest.mark.parametrize(
    ("accept", "arrives_as"), [(CHROME, "avif"), ("image/webp", "webp"), ("*/*", None)]
)
def test_format_auto_verifies_however_the_edge_resolves_it(
    accept: str, arrives_as: str | None
) -> None:
    _, query = signed("/images/a.jpg?w=300&format=auto", expires=2_000_000_000)
    [edge] = at_the_edge([query], accept)
    forwarded = str(edge["query"])
    assert (f"format={arrives_as}" in forwarded) if arrives_as else "format" not in forwarded
    verify(SECRET, "a.jpg", forwarded, now=1_900_000_000)
    as_png = "format=png&" + re.sub(r"format=[a-z]+&", "", forwarded)
    with pytest.raises(SignatureRejected):  # auto does not stretch to any format
        verify(SECRET, "a.jpg", as_png, now=1_900_000_000)


# Known answers an outside signer must reproduce, computed independently of this code with
# `printf '%s' MESSAGE | openssl dgst -sha256 -hmac SECRET -binary | base64 | tr '+/' '-_' |
# tr -d '='`. The message is the documented one: the key percent-encoded ('/' kept), '?', then
# w, h, q, format, fit, position, fx, fy, dpr, frames, expires as name=value joined by '&', in
# the edge's canonical form.
KNOWN_ANSWERS = [
    (
        b"a-long-enough-test-secret",
        "/images/photos/a%20b.jpg?FORMAT=JPG&W=0400&fit=contain&q=80",
        1799999999,
        "photos/a%20b.jpg?w=400&q=80&format=jpeg&expires=1799999999",
        "gvC6IXIXQ7tDmrvGo-yMQYwSU-TBvQwngcPdG7rH-M8",
    ),
    (
        b"another secret, 16+ chars",
        "/images/caf%C3%A9/%C3%BC.png?fit=contain&format=webp&h=200&w=320",
        None,
        "caf%C3%A9/%C3%BC.png?w=320&h=200&format=webp&fit=contain",
        "HtxIQb1b95j0hgFr3u-J1UsCpEeMKTD2WVG767eh_jk",
    ),
    (
        b"a-long-enough-test-secret",
        "/images/a.jpg?frames=1&DPR=2.0&fy=.50&fx=0.250&fit=Cover&h=300&w=400",
        1799999999,
        "a.jpg?w=400&h=300&fit=cover&fx=0.25&fy=0.5&dpr=2&frames=1&expires=1799999999",
        "kuh18lEJoCoWpySCVTRDIu8SwTiltqY_s1Vrsw_8U6U",
    ),
    (
        b"a-long-enough-test-secret",
        "/images/a.jpg?position=Top-Left&w=400&h=300",
        None,
        "a.jpg?w=400&h=300&position=top-left",
        "_IT0_fzOD2lgYi8BI_WtfODPTHHKxzT0kdvWM9dMNzs",
    ),
]


@pytest.mark.parametrize(("secret", "url", "expires", "message", "signature"), KNOWN_ANSWERS)
def test_known_answers_from_openssl(
    secret: bytes, url: str, expires: int | None, message: str, signature: str
) -> None:
    query = urlsplit(sign_url(url, secret, expires)).query
    assert query.endswith(f"&s={signature}")
    assert node_hmac(secret, message) == signature  # a third implementation agrees
    key = urlsplit(url).path.removeprefix("/images/")
    verify(secret, unquote(key), query, now=1_700_000_000)


def node_hmac(secret: bytes, message: str) -> str:
    script = (
        "const [secret, message] = process.argv.slice(1);"
        "process.stdout.write(require('node:crypto').createHmac('sha256', secret)"
        ".update(message).digest('base64url'));"
    )
    node = shutil.which("node")
    assert node, "node is needed (make test installs it)"
    result = subprocess.run(
        [node, "-e", script, secret.decode(), message], capture_output=True, text=True, check=True
    )
    return result.stdout


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("w=10&s=%C3%A9%C3%A9%C3%A9", "s is not a signature this service makes"),
        ("w=10&s=abc%2Fdef", "s is not a signature this service makes"),
        ("w=10&s=" + "A" * 129, "s is not a signature this service makes"),
        ("w=10&expires=%C2%B2&s=abc", "expires must be a Unix time in seconds, got '²'"),
        (
            "w=10&expires=" + "x" * 30 + "&s=abc",
            f"expires must be a Unix time in seconds, got {'x' * 20!r}",
        ),
        ("w=10&expires=-5&s=abc", "expires must be a Unix time in seconds, got '-5'"),
        (
            "w=10&expires=9999999999999&s=abc",
            "expires must be a Unix time in seconds, got '9999999999999'",
        ),
    ],
)
def test_malformed_signature_parameters_are_rejected(query: str, why: str) -> None:
    assert rejection("a.jpg", query) == why


def test_only_image_urls_are_signed() -> None:
    with pytest.raises(ValueError, match="not under /images/"):
        sign_url("/health", SECRET)


class TestThroughTheHandler:
    def test_unsigned_requests_are_403(self, s3_handler: Callable[..., None]) -> None:
        s3_handler(SIGNING_SECRET=SECRET.decode())
        response = get("/images/logos/badge.png?w=50")
        assert response["statusCode"] == 403
        assert error_of(response)["code"] == "invalid_signature"

    def test_signed_requests_are_served(self, s3_handler: Callable[..., None]) -> None:
        s3_handler(SIGNING_SECRET=SECRET.decode())
        url = sign_url("/images/logos/badge.png?w=50&format=webp", SECRET, int(time.time()) + 60)
        assert get(url)["statusCode"] == 200

    def test_signed_urls_are_checked_against_the_deployments_limits(
        self, s3_handler: Callable[..., None]
    ) -> None:
        """A width over the default 4096 that MAX_DIMENSION allows, from an allow-list."""
        s3_handler(SIGNING_SECRET=SECRET.decode(), MAX_DIMENSION="8192", ALLOWED_HEIGHTS="5000")
        limits = {"max_dimension": 8192, "allowed": {"h": frozenset({5000})}}
        url = sign_url("/images/logos/badge.png?h=5000&dpr=1.5", SECRET, **limits)  # type: ignore[arg-type]
        assert get(url)["statusCode"] == 200

    def test_bad_parameters_are_still_400_first(self, s3_handler: Callable[..., None]) -> None:
        s3_handler(SIGNING_SECRET=SECRET.decode())
        assert get("/images/logos/badge.png?w=abc&s=x")["statusCode"] == 400

    def test_without_signing_s_is_an_unknown_parameter(self) -> None:
        with pytest.raises(InvalidParameter, match="unknown parameter 's'"):
            parse_query("w=1&s=abc", None, 4096)

    @pytest.mark.parametrize(
        "query", ["w=50&s=%C3%A9t%C3%A9", "w=50&expires=%C2%B2&s=abc", "w=50&s=a%00b"]
    )
    def test_malformed_signatures_are_403_not_500(
        self, s3_handler: Callable[..., None], query: str
    ) -> None:
        s3_handler(SIGNING_SECRET=SECRET.decode())
        response = get(f"/images/logos/badge.png?{query}")
        assert response["statusCode"] == 403, response["body"]
        assert error_of(response)["code"] == "invalid_signature"

    def test_an_answer_lasts_no_longer_than_its_url(self, s3_handler: Callable[..., None]) -> None:
        s3_handler(
            SIGNING_SECRET=SECRET.decode(),
            CACHE_CONTROL="public, max-age=86400, s-maxage=604800",
        )
        url = sign_url("/images/logos/badge.png?w=50", SECRET, int(time.time()) + 60)
        cache_control = get(url)["headers"]["Cache-Control"]
        lifetimes = re.fullmatch(r"public, max-age=(\d+), s-maxage=(\d+)", cache_control)
        assert lifetimes, cache_control
        assert all(55 <= int(seconds) <= 60 for seconds in lifetimes.groups())
        forever = sign_url("/images/logos/badge.png?w=50", SECRET)  # no expiry: as configured
        assert get(forever)["headers"]["Cache-Control"] == "public, max-age=86400, s-maxage=604800"

    def test_no_stale_copy_outlives_the_url_either(self, s3_handler: Callable[..., None]) -> None:
        s3_handler(
            SIGNING_SECRET=SECRET.decode(),
            CACHE_CONTROL="public, max-age=86400, stale-while-revalidate=600, "
            "Stale-If-Error=86400, s-maxage=604800",
        )
        url = sign_url("/images/logos/badge.png?w=50", SECRET, int(time.time()) + 60)
        cache_control = get(url)["headers"]["Cache-Control"]
        assert re.fullmatch(r"public, max-age=(5[5-9]|60), s-maxage=(5[5-9]|60)", cache_control)
        forever = sign_url("/images/logos/badge.png?w=50", SECRET)  # no expiry: as configured
        assert "stale-while-revalidate=600" in get(forever)["headers"]["Cache-Control"]

    def test_an_answer_to_a_url_expiring_this_second_is_not_kept(
        self, s3_handler: Callable[..., None], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        s3_handler(SIGNING_SECRET=SECRET.decode())
        now = int(time.time())
        monkeypatch.setattr(time, "time", lambda: float(now))
        response = get(sign_url("/images/logos/badge.png?w=50", SECRET, now))
        assert response["statusCode"] == 200
        assert response["headers"]["Cache-Control"] == "public, max-age=0"

    def test_a_lifetime_is_added_when_the_setting_has_none(
        self, s3_handler: Callable[..., None]
    ) -> None:
        s3_handler(SIGNING_SECRET=SECRET.decode(), CACHE_CONTROL="public, immutable")
        url = sign_url("/images/logos/badge.png?w=50", SECRET, int(time.time()) + 30)
        cache_control = get(url)["headers"]["Cache-Control"]
        assert re.fullmatch(r"public, immutable, max-age=(2[5-9]|30)", cache_control)

    @pytest.mark.parametrize(
        ("store", "stored", "characters"),
        [
            ("secretsmanager", b"binary, no SecretString", 0),  # what reads as empty
            ("secretsmanager", "fifteen-chars!!", 15),
            ("ssm", "short-secret", 12),
        ],
    )
    def test_a_stored_secret_too_short_refuses_to_serve(
        self,
        s3_handler: Callable[..., None],
        s3: Any,
        store: str,
        stored: str | bytes,
        characters: int,
        log_lines: Callable[[], list[dict[str, Any]]],
    ) -> None:
        import boto3

        name = f"image-optimizer-short-{time.time_ns()}"
        if store == "ssm":
            arn = f"/{name}"
            boto3.client("ssm").put_parameter(Name=arn, Value=str(stored), Type="SecureString")
        else:
            value = (
                {"SecretBinary": stored} if isinstance(stored, bytes) else {"SecretString": stored}
            )
            arn = boto3.client("secretsmanager").create_secret(Name=name, **value)["ARN"]
        s3_handler(SIGNING_SECRET_NAME=arn)
        for url in ("/images/logos/badge.png?w=20", sign_url("/images/logos/badge.png", b"x")):
            response = get(url)
            assert response["statusCode"] == 503
            assert error_of(response) == UNAVAILABLE
            assert response["headers"]["Cache-Control"] == "no-store"
            assert response["headers"]["Retry-After"] == "5"
        [record, *_] = [r for r in log_lines() if r.get("message") == "request"]
        assert record["level"] == "ERROR"
        assert record["error_reason"] == (
            f"the stored signing secret has {characters} characters; at least 16 are needed"
        )

    def test_a_secret_that_cannot_be_read_refuses_to_serve(
        self,
        s3_handler: Callable[..., None],
        s3: Any,
        log_lines: Callable[[], list[dict[str, Any]]],
    ) -> None:
        s3_handler(SIGNING_SECRET_NAME="/image-optimizer/no-such-parameter")
        response = get("/images/logos/badge.png?w=20")
        assert response["statusCode"] == 503
        assert error_of(response) == UNAVAILABLE
        [record] = [r for r in log_lines() if r.get("message") == "request"]
        assert "reading the signing secret failed" in record["error_reason"]
        assert "ParameterNotFound" in record["error_reason"]

    @pytest.mark.parametrize(
        ("endpoint", "name"),
        [
            ("AWS_ENDPOINT_URL_SSM", "/image-optimizer/signing"),
            (
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:signing-AbCdEf",
            ),
        ],
    )
    def test_a_store_that_never_answers_is_a_503_after_two_tries(
        self,
        s3_handler: Callable[..., None],
        monkeypatch: pytest.MonkeyPatch,
        log_lines: Callable[[], list[dict[str, Any]]],
        endpoint: str,
        name: str,
    ) -> None:
        with socket.socket() as silent:  # accepts connections, never says a word
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            tries: list[socket.socket] = []

            def count_tries() -> None:
                with contextlib.suppress(OSError):  # until the socket is closed
                    while True:
                        tries.append(silent.accept()[0])

            threading.Thread(target=count_tries, daemon=True).start()
            monkeypatch.setenv(endpoint, f"http://127.0.0.1:{silent.getsockname()[1]}")
            s3_handler(SIGNING_SECRET_NAME=name)
            response = get("/images/logos/badge.png?w=20")
            for connection in tries:
                connection.close()
        assert response["statusCode"] == 503
        assert error_of(response) == UNAVAILABLE
        [record] = [r for r in log_lines() if r.get("message") == "request"]
        assert "Read timeout" in record["error_reason"]
        assert len(tries) == 2  # so that it ends in seconds, not at Lambda's timeout

    @pytest.mark.parametrize("store", ["ssm-arn", "secretsmanager"])
    def test_a_stored_secret_of_exactly_16_characters_is_enough(
        self, s3_handler: Callable[..., None], s3: Any, store: str
    ) -> None:
        import boto3

        secret, name = "sixteen-chars-ok", f"image-optimizer-{time.time_ns()}"
        if store == "ssm-arn":  # the parameter named by its ARN, which SSM also takes
            ssm = boto3.client("ssm")
            ssm.put_parameter(Name=f"/{name}", Value=secret, Type="SecureString")
            name = ssm.get_parameter(Name=f"/{name}")["Parameter"]["ARN"]
        else:
            name = boto3.client("secretsmanager").create_secret(Name=name, SecretString=secret)[
                "ARN"
            ]
        s3_handler(SIGNING_SECRET_NAME=name)
        assert get(sign_url("/images/logos/badge.png?w=20", secret.encode()))["statusCode"] == 200

    @pytest.mark.parametrize("store", ["ssm", "secretsmanager"])
    def test_the_secret_can_be_stored(
        self, s3_handler: Callable[..., None], s3: Any, store: str
    ) -> None:
        import boto3

        if store == "ssm":
            name = "/image-optimizer/signing"
            boto3.client("ssm").put_parameter(
                Name=name, Value=SECRET.decode(), Type="SecureString", Overwrite=True
            )
        else:
            created = boto3.client("secretsmanager").create_secret(
                Name=f"image-optimizer-signing-{time.time_ns()}", SecretString=SECRET.decode()
            )
            name = created["ARN"]
        s3_handler(SIGNING_SECRET_NAME=name)
        url = sign_url("/images/logos/badge.png?w=20", SECRET)
        assert get(url)["statusCode"] == 200
        assert get("/images/logos/badge.png?w=20")["statusCode"] == 403


def test_the_cli_signs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    monkeypatch.setenv("SIGNING_SECRET", SECRET.decode())
    assert main(["sign", "https://cdn.example.com/images/a.jpg?w=10", "--expires-in", "60"]) == 0
    url = capsys.readouterr().out.strip()
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "cdn.example.com", "/images/a.jpg")
    verify(SECRET, "a.jpg", parts.query)
    monkeypatch.delenv("SIGNING_SECRET")
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET.decode() + "\n")
    assert main(["sign", "/images/a.jpg", "--secret-file", str(secret_file)]) == 0
    verify(SECRET, "a.jpg", urlsplit(capsys.readouterr().out.strip()).query)
    with pytest.raises(SystemExit) as exited:
        main(["sign", "/images/a.jpg"])
    assert exited.value.code == 2
    assert "no secret" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("environment", "url", "error"),
    [
        (
            {"SIGNING_SECRET": "fifteen-chars!!"},
            "/images/a.jpg?w=10",
            "SIGNING_SECRET must be at least 16 characters long",
        ),
        ({}, "/images/a.jpg?w=abc", "the service would refuse this URL: w must be an integer"),
        ({}, "/images/a.jpg?width=10", "the service would refuse this URL: unknown parameter"),
        ({}, "/images/a.jpg?w=5000", "w must be an integer from 1 to 4096, got '5000'"),
        ({"MAX_DIMENSION": "8192"}, "/images/a.jpg?w=9000", "from 1 to 8192, got '9000'"),
        ({"ALLOWED_WIDTHS": "320,640"}, "/images/a.jpg?w=400", "w must be one of 320, 640"),
        ({}, "/images/a.jpg?position=top&fx=0.2", "position and fx/fy both say"),
    ],
)
def test_the_cli_refuses_what_the_service_would(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environment: dict[str, str],
    url: str,
    error: str,
) -> None:
    for name in ("MAX_DIMENSION", "ALLOWED_WIDTHS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SIGNING_SECRET", SECRET.decode())
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        main(["sign", url])
    assert exited.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert error in line


def test_the_cli_signs_within_the_deployments_limits(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIGNING_SECRET", SECRET.decode())
    monkeypatch.setenv("MAX_DIMENSION", "8192")
    monkeypatch.setenv("ALLOWED_WIDTHS", "320,6000")
    assert main(["sign", "/images/a.jpg?w=6000"]) == 0
    query = urlsplit(capsys.readouterr().out.strip()).query
    verify(SECRET, "a.jpg", query, max_dimension=8192, allowed={"w": frozenset({320, 6000})})


def test_expires_has_one_spelling() -> None:
    """The edge forwards 01796457320 as 1796457320; the function refuses the other spelling."""
    key, query = signed("/images/a.jpg?w=10", expires=1796457320)
    assert verify(SECRET, key, query, now=1_700_000_000) == 1796457320
    assert rejection(key, query.replace("expires=", "expires=0"), now=1_700_000_000) == (
        "expires has leading zeros: write 1796457320"
    )
    [edge] = at_the_edge([query.replace("expires=", "EXPIRES=0")], "*/*")
    assert verify(SECRET, key, str(edge["query"]), now=1_700_000_000) == 1796457320
