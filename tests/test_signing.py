"""Signed URLs: signing, verification, expiry, the edge in between, SSM, the CLI."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import error_of, get
from image_optimizer.errors import InvalidParameter
from image_optimizer.request import parse_query
from image_optimizer.signing import SignatureRejected, sign_url, verify
from image_optimizer_cli.main import main
from test_edge_function import CHROME, at_the_edge

SECRET = b"a-long-enough-test-secret"


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


def test_a_missing_signature() -> None:
    with pytest.raises(SignatureRejected, match="s parameter is missing"):
        verify(SECRET, "a.jpg", "w=400")


def test_expiry() -> None:
    now = 1_800_000_000
    key, query = signed("/images/a.jpg?w=10", expires=now + 60)
    verify(SECRET, key, query, now=now)
    with pytest.raises(SignatureRejected, match="expired"):
        verify(SECRET, key, query, now=now + 61)
    with pytest.raises(SignatureRejected, match="does not match"):
        verify(SECRET, key, query.replace(str(now + 60), str(now + 9999)), now=now)


def test_a_signature_survives_the_edge_normalising_the_query() -> None:
    key, query = signed("/images/photos/a%20b.jpg?FORMAT=JPG&W=0400&fit=contain&q=80")
    [edge] = at_the_edge([query], "*/*")
    assert edge == {"query": f"w=400&q=80&format=jpeg&s={query.rsplit('s=', 1)[1]}"}
    assert key == "photos/a%20b.jpg"
    verify(SECRET, "photos/a b.jpg", str(edge["query"]))


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

    def test_bad_parameters_are_still_400_first(self, s3_handler: Callable[..., None]) -> None:
        s3_handler(SIGNING_SECRET=SECRET.decode())
        assert get("/images/logos/badge.png?w=abc&s=x")["statusCode"] == 400

    def test_without_signing_s_is_an_unknown_parameter(self) -> None:
        with pytest.raises(InvalidParameter, match="unknown parameter 's'"):
            parse_query("w=1&s=abc", None, 4096)

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
