"""AWS Signature Version 4 for one request without a body: the headers that authorise it, or
the query that does (a presigned URL).

What `s3.S3Source` needs to read an object, and the Redis cache to log in to ElastiCache with
IAM, without botocore (whose import and client cost a new container most of its first miss).
The algorithm is AWS's published one: a canonical request (method, path, query, the signed
headers, the payload's SHA-256), a string to sign naming the date, region and service, and an
HMAC-SHA256 chain from the secret key through those three. The tests hold it to AWS's
documented example and to botocore's own signers.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_PAYLOAD_SHA256 = hashlib.sha256(b"").hexdigest()


class Credentials(NamedTuple):
    access_key: str
    secret_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # the secrets stay out of logs and tracebacks
        return f"Credentials(access_key={self.access_key!r}, secret_key=..., session_token=...)"


def signed_headers(
    method: str,
    host: str,
    path: str,
    credentials: Credentials,
    region: str,
    service: str,
    when: datetime,
    headers: Mapping[str, str] | None = None,
    query: str = "",
) -> dict[str, str]:
    """Every header the request must carry, ``headers`` included, with its Authorization.

    ``path`` is as sent: already percent-encoded (S3 signs it as it is, encoded once); ``query``
    is already canonical (names sorted, encoded).
    """
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    sent = {
        **{name.lower(): value.strip() for name, value in (headers or {}).items()},
        "host": host,
        "x-amz-date": stamp,
        "x-amz-content-sha256": EMPTY_PAYLOAD_SHA256,
    }
    if credentials.session_token:
        sent["x-amz-security-token"] = credentials.session_token
    names = sorted(sent)
    scope = f"{day}/{region}/{service}/aws4_request"
    signature = _signature(
        credentials, stamp, scope, method, path, query, {name: sent[name] for name in names}
    )
    sent["authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return sent


def presigned_query(
    host: str,
    path: str,
    params: Mapping[str, str],
    credentials: Credentials,
    region: str,
    service: str,
    when: datetime,
    expires_seconds: int,
) -> str:
    """The query of a presigned GET of ``host`` and ``path``: ``params`` first, then the
    signature's own (``X-Amz-...``), as botocore writes them."""
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    signing = {
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{credentials.access_key}/{scope}",
        "X-Amz-Date": stamp,
        "X-Amz-Expires": str(expires_seconds),
        "X-Amz-SignedHeaders": "host",
    }
    if credentials.session_token:
        signing["X-Amz-Security-Token"] = credentials.session_token
    every = {**params, **signing}
    canonical_query = "&".join(f"{_encoded(k)}={_encoded(every[k])}" for k in sorted(every))
    signature = _signature(credentials, stamp, scope, "GET", path, canonical_query, {"host": host})
    written = "&".join(f"{_encoded(name)}={_encoded(value)}" for name, value in every.items())
    return f"{written}&X-Amz-Signature={signature}"


def _signature(
    credentials: Credentials,
    stamp: str,
    scope: str,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
) -> str:
    """The hex signature of a request whose ``headers`` (lower-case names, sorted) are signed;
    its payload is the empty body's."""
    canonical_request = "\n".join(
        [
            method,
            path,
            query,
            *(f"{name}:{value}" for name, value in headers.items()),
            "",
            ";".join(headers),
            EMPTY_PAYLOAD_SHA256,
        ]
    )
    string_to_sign = "\n".join(
        [ALGORITHM, stamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = f"AWS4{credentials.secret_key}".encode()
    for part in scope.split("/"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _encoded(text: str) -> str:
    return quote(text, safe="-_.~")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()
