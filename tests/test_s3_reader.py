"""The S3 reader's own promises: SigV4 as AWS defines it, credentials from where AWS keeps them,
connections kept between reads, and the endpoint a deployment reaches S3 at."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from conftest import BUCKET, PREFIX
from faulty_s3 import FaultyS3
from image_optimizer.sources.s3 import S3Source
from image_optimizer.sources.sigv4 import Credentials, signed_headers

EXAMPLE = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def test_the_signature_of_awss_documented_example() -> None:
    """AWS's S3 documentation, "Signature Calculations for the Authorization Header", example
    "GET Object": its Authorization header, to the character."""
    headers = signed_headers(
        "GET", "examplebucket.s3.amazonaws.com", "/test.txt", EXAMPLE, "us-east-1", "s3",
        datetime(2013, 5, 24, tzinfo=UTC), {"Range": "bytes=0-9"},
    )  # fmt: skip
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


@pytest.mark.parametrize("seed", range(20))
def test_the_signature_agrees_with_botocores(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + " -_.~+%/ü"
    key = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))).strip("/") or "k"
    token = "".join(rng.choice(string.ascii_letters) for _ in range(30)) if seed % 2 else None
    credentials = Credentials("AKIA" + str(seed), f"secret/{seed}+x", token)
    when = datetime(2026, 1, 1, 12, 0, seed, tzinfo=UTC)
    host, region, path = "images.s3.eu-west-1.amazonaws.com", "eu-west-1", "/" + quote(key)
    ours = signed_headers("GET", host, path, credentials, region, "s3", when)

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: when.replace(tzinfo=None))
    theirs = AWSRequest(method="GET", url=f"https://{host}{path}", headers={})
    secret = BotocoreCredentials(credentials.access_key, credentials.secret_key, token)
    S3SigV4Auth(secret, "s3", region).add_auth(theirs)
    assert ours["authorization"] == theirs.headers["Authorization"], key


@pytest.fixture
def proxied(
    s3_endpoint: str, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FaultyS3, S3Source]]:
    proxy = FaultyS3(s3_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}x.bin", Body=b"hello")
    yield proxy, S3Source(BUCKET, PREFIX, 100)
    proxy.server.shutdown()


def test_the_secret_and_the_session_token_stay_out_of_the_credentials_repr() -> None:
    shown = repr(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", "token-of-the-session"))
    assert "AKIDEXAMPLE" in shown
    assert "wJalrXUtnFEMI" not in shown
    assert "token-of-the-session" not in shown


def test_one_connection_serves_read_after_read(proxied: tuple[FaultyS3, S3Source]) -> None:
    proxy, source = proxied
    assert [source.fetch("x.bin") for _ in range(5)] == [b"hello"] * 5
    assert (proxy.requests, proxy.connections) == (5, 1)


def test_a_kept_connection_the_server_closed_is_replaced_at_once(
    proxied: tuple[FaultyS3, S3Source],
) -> None:
    proxy, source = proxied
    source.fetch("x.bin")
    [kept] = source._idle
    assert kept.sock is not None
    kept.sock.close()  # as after a server's idle timeout, or a frozen container
    assert source.fetch("x.bin") == b"hello"
    assert (proxy.requests, proxy.connections) == (2, 2)  # no attempt lost, no backoff


def test_credentials_from_the_environment_with_the_session_token(
    proxied: tuple[FaultyS3, S3Source], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy, source = proxied
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAENVIRONMENT")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-from-lambda")
    source.fetch("x.bin")
    assert "Credential=ASIAENVIRONMENT/" in proxy.authorizations[-1]
    assert "x-amz-security-token" in proxy.authorizations[-1]
    assert proxy.tokens[-1] == "session-token-from-lambda"


def test_credentials_from_a_profile_when_the_environment_has_none(
    proxied: tuple[FaultyS3, S3Source], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    proxy, _ = proxied
    shared = tmp_path / "credentials"
    shared.write_text("[local]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = s\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
    monkeypatch.setenv("AWS_PROFILE", "local")
    assert S3Source(BUCKET, PREFIX, 100).fetch("x.bin") == b"hello"
    assert "Credential=AKIAPROFILE/" in proxy.authorizations[-1]
    assert proxy.tokens[-1] is None


@pytest.mark.parametrize(
    ("bucket", "host", "path"),
    [
        ("my-images", "my-images.s3.eu-west-1.amazonaws.com", ""),
        ("images.example.com", "s3.eu-west-1.amazonaws.com", "/images.example.com"),
    ],
)
def test_without_an_endpoint_the_regional_one_is_used(
    bucket: str, host: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    endpoint = S3Source(bucket, "", 100)._endpoint
    assert (endpoint.secure, endpoint.host, endpoint.path_prefix) == (True, host, path)
