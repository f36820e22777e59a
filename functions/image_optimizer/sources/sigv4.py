"""AWS Signature Version 4 for one request without a body: the headers that authorise it.

What `s3.S3Source` needs to read an object without botocore (whose import and client cost a new
container most of its first miss). The algorithm is AWS's published one: a canonical request
(method, path, query, the signed headers, the payload's SHA-256), a string to sign naming the
date, region and service, and an HMAC-SHA256 chain from the secret key through those three.
The tests hold it to AWS's documented example and to botocore's own signer.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_PAYLOAD_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


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
    canonical_request = "\n".join(
        [
            method,
            path,
            query,
            *(f"{name}:{sent[name]}" for name in names),
            "",
            ";".join(names),
            sent["x-amz-content-sha256"],
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, stamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = f"AWS4{credentials.secret_key}".encode()
    for part in (day, region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    sent["authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return sent


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()
