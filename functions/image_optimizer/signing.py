"""Signed URLs: an HMAC-SHA256 over the image key and its canonical query, with an optional expiry.

A signed URL carries ``s``, the signature, and may carry ``expires``, a Unix time after which
the URL stops working; it may ask for anything. What a URL without one may ask for is
UNSIGNED_URLS (`check_unsigned`): anything, a preset and a format only, or nothing (the default
when a signing secret is configured). The message signed is

    <key>?<canonical query>

where the canonical query is the transform's parameters as the CloudFront Function forwards them
(`request.canonical_query`: the table's order and canonical forms, names in lower case, ``jpg``
as ``jpeg``, numbers in their shortest form, ``fit`` dropped when only one side is given, ``dpr``
when it is 1, a preset by its name), then ``expires`` (in one spelling: no leading zeros). So
a URL signed here still verifies after the edge has normalised it; and one signed with
``format=auto`` also verifies once the edge has resolved ``auto`` to avif, to webp, or to
nothing.

Applications sign with `sign_url` (or ``image-optimizer sign``); the handler calls `verify` for
a URL that carries a signature, and `check_unsigned` for one that does not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from urllib.parse import quote, urlsplit, urlunsplit

from image_optimizer.errors import OptimizerError
from image_optimizer.parameters import AUTO_FORMAT, PRESET, Allowed, shortest_number
from image_optimizer.request import (
    IMAGES_PREFIX,
    Presets,
    canonical_query,
    parse_key,
    split_query,
)
from image_optimizer.settings import (
    DEFAULT_MAX_DIMENSION,
    MIN_SIGNING_SECRET_CHARS,
    UNSIGNED_NONE,
    UNSIGNED_PRESETS,
)

SIGNATURE = "s"
EXPIRES = "expires"
SIGNING_PARAMETERS = (SIGNATURE, EXPIRES)
_NEGOTIABLE = (None, "avif", "webp")  # what format=auto may arrive as
_NO_LIMITS: Mapping[str, Allowed] = MappingProxyType({})
_NO_PRESETS: Presets = MappingProxyType({})
# The forms the CloudFront Function lets through; anything else cannot be a signature we made.
_SIGNATURE_FORM = re.compile(r"[A-Za-z0-9_-]{1,128}")
_EXPIRES_FORM = re.compile(r"[0-9]{1,12}")
_UNAVAILABLE = "signed URLs cannot be checked right now, so nothing is served; try again later"


class SignatureRejected(OptimizerError):
    status = 403
    code = "invalid_signature"


class SignatureRequired(OptimizerError):
    """An unsigned URL asks for more than UNSIGNED_URLS=presets lets it."""

    status = 403
    code = "signature_required"


PRESETS_ONLY = "without a signature, a URL may name a preset and a format only"
_MISSING = "this service only answers signed URLs; the s parameter is missing"


def check_unsigned(mode: str, canonical: Mapping[str, str], presets: Iterable[str]) -> None:
    """Refuse what an unsigned URL (its `canonical_query`) may not ask for under UNSIGNED_URLS
    ``mode``, as the CloudFront Function does: nothing, or a preset and a format only."""
    if mode == UNSIGNED_NONE:
        raise SignatureRejected(_MISSING)
    if mode != UNSIGNED_PRESETS:
        return
    for name in canonical:
        if name not in (PRESET, "format"):
            raise SignatureRequired(f"{PRESETS_ONLY}: {name} needs a signed URL")
    if PRESET not in canonical:
        raise SignatureRequired(f"{PRESETS_ONLY}: name one of {', '.join(sorted(presets))}")


class SigningUnavailable(OptimizerError):
    """Signing is on but its secret cannot be had: the service refuses to answer at all rather
    than answer unsigned requests. ``reason`` (logged, never shown) says why."""

    status = 503
    code = "signing_unavailable"
    retry_after = 5


def sign_url(
    url: str,
    secret: bytes,
    expires: int | None = None,
    *,
    max_dimension: int = DEFAULT_MAX_DIMENSION,
    allowed: Mapping[str, Allowed] = _NO_LIMITS,
    presets: Presets = _NO_PRESETS,
) -> str:
    """``url`` (a path such as /images/a.jpg?w=400, or a full URL) with ``s`` (and ``expires``).

    A URL the service would refuse (``w=abc``, a width outside ``allowed``) is refused here with
    the same `InvalidParameter`, rather than signed.
    """
    parts = urlsplit(url)
    if not parts.path.startswith(IMAGES_PREFIX):
        raise ValueError(f"only image URLs are signed, and {parts.path!r} is not under /images/")
    key = parse_key(parts.path.removeprefix(IMAGES_PREFIX), percent_encoded=True)
    canonical = canonical_query(split_query(parts.query), max_dimension, allowed, presets)
    if expires is not None:
        canonical[EXPIRES] = str(expires)
    query = "&".join(f"{name}={value}" for name, value in canonical.items())
    signed = f"{query}&" if query else ""
    signed += f"{SIGNATURE}={signature(secret, key, canonical)}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, signed, ""))


def verify(
    secret: bytes,
    key: str,
    raw_query: str,
    now: float | None = None,
    *,
    max_dimension: int = DEFAULT_MAX_DIMENSION,
    allowed: Mapping[str, Allowed] = _NO_LIMITS,
    presets: Presets = _NO_PRESETS,
) -> int | None:
    """Raise `SignatureRejected` unless the request carries a valid, unexpired signature.

    Returns the URL's expiry (a Unix time), or None when it has none. ``max_dimension``,
    ``allowed`` and ``presets`` are the deployment's, as the query was checked against them.
    """
    params = split_query(raw_query, extra=SIGNING_PARAMETERS)
    given = params.pop(SIGNATURE, None)
    if given is None:
        raise SignatureRejected(_MISSING)
    if not _SIGNATURE_FORM.fullmatch(given):
        raise SignatureRejected("s is not a signature this service makes")
    expires = params.pop(EXPIRES, None)
    if expires is not None and not _EXPIRES_FORM.fullmatch(expires):
        raise SignatureRejected(f"expires must be a Unix time in seconds, got {expires[:20]!r}")
    if expires is not None and expires != shortest_number(expires):
        # One URL, one spelling: the CloudFront Function forwards it so; 0179... is not it.
        raise SignatureRejected(f"expires has leading zeros: write {shortest_number(expires)}")
    canonical = canonical_query(params, max_dimension, allowed, presets)
    candidates = [canonical]
    if canonical.get("format") in _NEGOTIABLE:
        auto = {**params, "format": AUTO_FORMAT}
        candidates.append(canonical_query(auto, max_dimension, allowed, presets))
    if expires is not None:
        for candidate in candidates:
            candidate[EXPIRES] = expires
    # Every candidate is computed and compared in constant time, so timing tells nothing.
    matches = [hmac.compare_digest(signature(secret, key, c), given) for c in candidates]
    if not any(matches):
        raise SignatureRejected("the signature does not match this URL")
    if expires is None:
        return None
    if (time.time() if now is None else now) > int(expires):
        raise SignatureRejected("this signed URL has expired")
    return int(expires)


def stored_secret(name: str) -> bytes:
    """The secret kept in Secrets Manager (``name`` is a secret's ARN) or else in an SSM
    parameter (``name`` is the parameter's name; a SecureString is decrypted).

    Fails closed: a secret that cannot be read, or is shorter than SIGNING_SECRET may be, is a
    `SigningUnavailable`, never "no signing".
    """
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    # At worst two tries of three seconds: well inside the function's time, so that a store that
    # does not answer is our 503, not an invocation that Lambda cuts off.
    config = Config(
        connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 2, "mode": "standard"}
    )
    try:
        if name.startswith("arn:") and ":secretsmanager:" in name:
            stored = boto3.client("secretsmanager", config=config).get_secret_value(SecretId=name)
            value = str(stored.get("SecretString") or "")
        else:
            ssm = boto3.client("ssm", config=config)
            value = str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    except (BotoCoreError, ClientError) as error:
        raise SigningUnavailable(
            _UNAVAILABLE, reason=f"reading the signing secret failed: {str(error)[:200]}"
        ) from error
    if len(value) < MIN_SIGNING_SECRET_CHARS:
        raise SigningUnavailable(
            _UNAVAILABLE,
            reason=f"the stored signing secret has {len(value)} characters; "
            f"at least {MIN_SIGNING_SECRET_CHARS} are needed",
        )
    return value.encode("utf-8")


def signature(secret: bytes, key: str, canonical: Mapping[str, str]) -> str:
    query = "&".join(f"{name}={value}" for name, value in canonical.items())
    message = f"{quote(key, safe='/')}?{query}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
