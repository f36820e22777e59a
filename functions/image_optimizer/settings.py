"""Every environment variable the service reads, read once, typed and validated.

A bad value raises `ConfigurationError` naming the variable when the settings are first read
(the handler on its first request, logged as an error with every request it fails; the local
commands before they do anything), rather than surfacing later as odd answers. The README lists
each variable with its default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from image_optimizer.errors import InvalidKey, InvalidParameter
from image_optimizer.parameters import BY_NAME, PARAMETERS, PRESET, Allowed, Kind, Parameter
from image_optimizer.request import canonical_query, parse_key, split_query
from image_optimizer.watermarks import DEFAULT_CHECK_SECONDS, Watermark, read_watermarks

MEBIBYTE = 1024 * 1024
DEFAULT_MAX_DIMENSION = 4096
DEFAULT_MAX_ANIMATION_FRAMES = 300  # ten seconds at 30 frames a second
MIN_SIGNING_SECRET_CHARS = 16  # a shorter HMAC key is guessable; stored secrets are held to it too
# UNSIGNED_URLS: what a URL without a signature may ask for.
UNSIGNED_ANY = "any"  # every parameter
UNSIGNED_PRESETS = "presets"  # a preset and a format only
UNSIGNED_NONE = "none"  # nothing: every URL is signed
# A replaced watermark's invalidation waits this long and a minute more, and SQS delays a
# message by at most 900 seconds.
MAX_WATERMARK_CHECK_SECONDS = 840


class ConfigurationError(ValueError):
    """An environment variable is missing, malformed or out of range."""


class Settings(NamedTuple):
    source_bucket: str | None = None
    source_prefix: str = ""
    source_dir: str | None = None
    max_dimension: int = DEFAULT_MAX_DIMENSION
    max_source_bytes: int = 32 * MEBIBYTE
    max_source_pixels: int = 50_000_000
    max_animation_frames: int = DEFAULT_MAX_ANIMATION_FRAMES
    cache_control: str = "public, max-age=86400"
    memory_cache_bytes: int = 0
    redis_url: str | None = None
    redis_key_prefix: str = "image-optimizer:"
    redis_ttl_seconds: int = 3600
    redis_max_item_bytes: int = 4 * MEBIBYTE
    redis_timeout_seconds: float = 0.25
    redis_cooldown_seconds: float = 30.0
    redis_lock_seconds: float = 10.0
    redis_wait_seconds: float = 3.0
    redis_iam_user: str | None = None  # log in to ElastiCache as this IAM-enabled user
    redis_iam_cache: str | None = None  # "serverless/<cache name>" or "replication-group/<id>"
    s3_connect_timeout_seconds: float = 2.0
    s3_read_timeout_seconds: float = 5.0
    s3_max_attempts: int = 3
    tracing_enabled: bool = False
    response_margin_ms: int = 1000
    allowed_values: Mapping[str, Allowed] = MappingProxyType({})
    """Allow-lists by parameter name: w, h, q, dpr (one not listed takes its whole range) and
    the watermarks' names."""
    presets: Mapping[str, Mapping[str, str]] = MappingProxyType({})
    """PRESETS: name -> its parameters in canonical form."""
    watermarks: Mapping[str, Watermark] = MappingProxyType({})  # WATERMARKS, by name
    watermark_always: str | None = None  # the watermark every image gets
    watermark_check_seconds: int = DEFAULT_CHECK_SECONDS  # how long a picture read is trusted
    unsigned_urls: str = UNSIGNED_ANY  # what a URL without a signature may ask for
    signing_secret: bytes | None = None  # never in its repr
    signing_secret_name: str | None = None  # an SSM parameter or Secrets Manager secret holding it
    results_bucket: str | None = None  # where results too large for a response are kept
    results_dir: str | None = None  # the same, a local folder
    results_days: int = 7  # how long the bucket keeps them (its lifecycle rule)
    fallback_key: str | None = None  # the image answered (with a 404) for a missing original
    cors_allow_origin: tuple[str, ...] = ()  # ("*",) or the origins that may read the images
    invalidation_queue_url: str | None = None  # where purged originals go for CloudFront
    distribution_id: str | None = None  # the CloudFront distribution that purges invalidate

    def __repr__(self) -> str:  # the signing secret stays out of logs and tracebacks
        shown = (
            f"{name}={'...' if name == 'signing_secret' and value else repr(value)}"
            for name, value in zip(self._fields, self, strict=True)
        )
        return f"Settings({', '.join(shown)})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        bucket = _optional(env, "SOURCE_BUCKET")
        folder = _optional(env, "SOURCE_DIR")
        if bucket and folder:
            raise ConfigurationError("set SOURCE_BUCKET or SOURCE_DIR, not both")
        if not bucket and not folder:
            raise ConfigurationError("set SOURCE_BUCKET (S3) or SOURCE_DIR (a local folder)")
        if folder and not os.path.isdir(folder):
            # Otherwise every image would be a 404, which looks like a client's mistake.
            raise ConfigurationError(f"SOURCE_DIR must be an existing folder, got {folder!r}")
        defaults = cls()
        max_dimension, allowed = parameter_limits(env)
        signing = _signing_secret(env)
        signing_name = _optional(env, "SIGNING_SECRET_NAME")
        presets = read_presets(env, max_dimension, allowed)
        watermarks = _watermarks(env)
        return cls(
            source_bucket=bucket,
            source_prefix=_normalise_prefix(env.get("SOURCE_PREFIX", "")),
            source_dir=folder,
            max_dimension=max_dimension,
            max_source_bytes=_integer(env, "MAX_SOURCE_BYTES", defaults.max_source_bytes, 1, 2**40),
            max_source_pixels=_integer(
                env, "MAX_SOURCE_PIXELS", defaults.max_source_pixels, 1, 2**31
            ),
            max_animation_frames=_integer(
                env, "MAX_ANIMATION_FRAMES", defaults.max_animation_frames, 1, 10_000
            ),
            cache_control=_optional(env, "CACHE_CONTROL") or defaults.cache_control,
            memory_cache_bytes=_integer(env, "MEMORY_CACHE_BYTES", 0, 0, 2**40),
            redis_url=_redis_url(env),
            redis_key_prefix=env.get("REDIS_KEY_PREFIX", defaults.redis_key_prefix),
            redis_ttl_seconds=_integer(
                env, "REDIS_CACHE_EXPIRATION_SECONDS", defaults.redis_ttl_seconds, 1, 365 * 86400
            ),
            redis_max_item_bytes=_integer(
                env, "REDIS_MAX_ITEM_BYTES", defaults.redis_max_item_bytes, 1, 512 * MEBIBYTE
            ),
            redis_timeout_seconds=_seconds(
                env, "REDIS_TIMEOUT_SECONDS", defaults.redis_timeout_seconds, 0.01, 10
            ),
            redis_cooldown_seconds=_seconds(
                env, "REDIS_COOLDOWN_SECONDS", defaults.redis_cooldown_seconds, 0, 3600
            ),
            redis_lock_seconds=_seconds(
                env, "REDIS_LOCK_SECONDS", defaults.redis_lock_seconds, 0.1, 900
            ),
            redis_wait_seconds=_seconds(
                env, "REDIS_WAIT_SECONDS", defaults.redis_wait_seconds, 0, 900
            ),
            redis_iam_user=_optional(env, "REDIS_IAM_USER"),
            redis_iam_cache=_redis_iam_cache(env),
            s3_connect_timeout_seconds=_seconds(
                env, "S3_CONNECT_TIMEOUT_SECONDS", defaults.s3_connect_timeout_seconds, 0.1, 60
            ),
            s3_read_timeout_seconds=_seconds(
                env, "S3_READ_TIMEOUT_SECONDS", defaults.s3_read_timeout_seconds, 0.1, 60
            ),
            s3_max_attempts=_integer(env, "S3_MAX_ATTEMPTS", defaults.s3_max_attempts, 1, 10),
            tracing_enabled=_boolean(env, "TRACING_ENABLED"),
            response_margin_ms=_integer(
                env, "RESPONSE_MARGIN_MS", defaults.response_margin_ms, 0, 60_000
            ),
            allowed_values=allowed,
            presets=presets,
            watermarks=watermarks,
            watermark_always=_watermark_always(env, watermarks),
            watermark_check_seconds=_integer(
                env,
                "WATERMARK_CHECK_SECONDS",
                DEFAULT_CHECK_SECONDS,
                1,
                MAX_WATERMARK_CHECK_SECONDS,
            ),
            unsigned_urls=_unsigned_urls(
                env, signed=bool(signing or signing_name), presets=presets
            ),
            signing_secret=signing,
            signing_secret_name=signing_name,
            results_bucket=_optional(env, "RESULTS_BUCKET"),
            results_dir=_results_dir(env),
            results_days=_integer(env, "RESULTS_DAYS", defaults.results_days, 1, 3650),
            fallback_key=_fallback_key(env),
            cors_allow_origin=_cors_allow_origin(env),
            invalidation_queue_url=_optional(env, "INVALIDATION_QUEUE_URL"),
            distribution_id=_optional(env, "DISTRIBUTION_ID"),
        )


def parameter_limits(env: Mapping[str, str]) -> tuple[int, dict[str, Allowed]]:
    """MAX_DIMENSION and the allow-lists by parameter name: what a URL's parameters are held to
    (by the function, and by ``image-optimizer sign`` before it signs one). A list that is not
    set is left out: a number then takes its whole range, a text (a name) nothing."""
    max_dimension = _integer(env, "MAX_DIMENSION", DEFAULT_MAX_DIMENSION, 1, 16384)
    allowed: dict[str, Allowed] = {}
    for parameter in PARAMETERS:
        if parameter.allow_list is None:
            continue
        if parameter.kind is Kind.TEXT:
            values: Allowed = frozenset(_watermarks(env))
        else:
            values = _number_set(env, parameter, max_dimension)
        if values:
            allowed[parameter.name] = values
    return max_dimension, allowed


def signing_secret(secret: str, where: str) -> bytes:
    """``secret`` (read from ``where``) as the HMAC key, if it is long enough to be one."""
    if len(secret) < MIN_SIGNING_SECRET_CHARS:
        raise ConfigurationError(
            f"{where} must be at least {MIN_SIGNING_SECRET_CHARS} characters long"
        )
    return secret.encode("utf-8")


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    return _bounded(env, name, default, low, high, int, "an integer", "")


def _seconds(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    return _bounded(env, name, default, low, high, float, "a number of seconds", " seconds")


def _bounded[N: (int, float)](
    env: Mapping[str, str],
    name: str,
    default: N,
    low: N,
    high: N,
    parse: Callable[[str], N],
    what: str,
    unit: str,
) -> N:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be {what}, got {raw!r}") from None
    if not low <= value <= high:  # NaN fails this too
        raise ConfigurationError(f"{name} must be from {low} to {high}{unit}, got {raw}")
    return value


def _number_set(
    env: Mapping[str, str], parameter: Parameter, max_dimension: int
) -> frozenset[float]:
    """The values ``parameter``'s allow-list variable allows (empty when it is not set)."""
    assert parameter.allow_list is not None
    name = parameter.allow_list.variable
    raw = env.get(name, "").strip()
    if not raw:
        return frozenset()
    low, decimals = parameter.low, parameter.decimals
    high = parameter.upper(max_dimension)
    form = re.compile(rf"[0-9]+(\.[0-9]{{1,{decimals}}})?" if decimals else "[0-9]+")
    kind = f"numbers (at most {decimals} decimal)" if decimals else "integers"
    values: set[float] = set()
    for item in raw.split(","):
        item = item.strip()
        if not form.fullmatch(item) or not low <= float(item) <= high:
            raise ConfigurationError(
                f"{name} must be a comma-separated list of {kind} from {low:g} to {high:g}, "
                f"got {item!r}"
            )
        values.add(float(item) if decimals else int(item))
    return frozenset(values)


def read_presets(
    env: Mapping[str, str], max_dimension: int, allowed: Mapping[str, Allowed]
) -> dict[str, Mapping[str, str]]:
    """PRESETS, ``name:query`` items separated by spaces (``card:w=400&h=300 thumb:w=160``),
    each query checked as a URL's would be, except that the deployment's own presets may take
    numbers its allow-lists keep from URLs; names (of watermarks) must be its own."""
    names = {name: values for name, values in allowed.items() if BY_NAME[name].kind is Kind.TEXT}
    presets: dict[str, Mapping[str, str]] = {}
    for item in env.get("PRESETS", "").split():
        name, _, query = item.partition(":")
        where = f"PRESETS' {name!r}"
        try:
            name = BY_NAME[PRESET].canonical(name, max_dimension)  # as URLs will spell it
            params = split_query(query)
            if PRESET in params or "format" in params:
                raise ConfigurationError(
                    f"{where} names a preset or a format: the URL's format decides it"
                )
            presets[name] = canonical_query(params, max_dimension, names)
        except InvalidParameter as error:
            raise ConfigurationError(f"{where}: {error.message}") from None
        if not presets[name]:
            raise ConfigurationError(f"{where} has no parameters: write name:w=400&h=300")
    return presets


def _fallback_key(env: Mapping[str, str]) -> str | None:
    key = _optional(env, "FALLBACK_KEY")
    if key is not None:
        try:
            parse_key(key, percent_encoded=False)
        except InvalidKey as error:
            raise ConfigurationError(f"FALLBACK_KEY: {error.message}") from None
    return key


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def _cors_allow_origin(env: Mapping[str, str]) -> tuple[str, ...]:
    """CORS_ALLOW_ORIGIN: ``*``, or origins (scheme, host and port, as browsers send them in
    Origin) separated by commas."""
    raw = env.get("CORS_ALLOW_ORIGIN", "").strip()
    if raw in ("", "*"):
        return (raw,) if raw else ()
    origins = tuple(item.strip() for item in raw.split(","))
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise ConfigurationError(
                "CORS_ALLOW_ORIGIN must be * or origins such as https://www.example.com, "
                f"separated by commas; got {origin!r}"
            )
    return origins


def _watermarks(env: Mapping[str, str]) -> dict[str, Watermark]:
    try:
        return read_watermarks(env.get("WATERMARKS", ""))
    except ValueError as error:
        raise ConfigurationError(f"WATERMARKS {error}") from None


def _watermark_always(env: Mapping[str, str], watermarks: Mapping[str, Watermark]) -> str | None:
    name = _optional(env, "WATERMARK_ALWAYS")
    if name is not None and name not in watermarks:
        known = ", ".join(sorted(watermarks)) or "none"
        raise ConfigurationError(
            f"WATERMARK_ALWAYS must name a watermark of WATERMARKS ({known}), got {name!r}"
        )
    return name


def _unsigned_urls(env: Mapping[str, str], *, signed: bool, presets: Mapping[str, object]) -> str:
    """UNSIGNED_URLS; without it, what a deployment allowed before the setting: everything when
    URLs are not signed, nothing when they are."""
    raw = env.get("UNSIGNED_URLS", "").strip()
    if not raw:
        return UNSIGNED_NONE if signed else UNSIGNED_ANY
    if raw not in (UNSIGNED_ANY, UNSIGNED_PRESETS, UNSIGNED_NONE):
        raise ConfigurationError(f"UNSIGNED_URLS must be any, presets or none, got {raw!r}")
    if raw == UNSIGNED_PRESETS and not presets:
        raise ConfigurationError("UNSIGNED_URLS=presets needs PRESETS to name some")
    if raw == UNSIGNED_NONE and not signed:
        raise ConfigurationError("UNSIGNED_URLS=none needs SIGNING_SECRET or SIGNING_SECRET_NAME")
    return raw


def _signing_secret(env: Mapping[str, str]) -> bytes | None:
    raw = env.get("SIGNING_SECRET", "")
    secret = raw.strip()
    if raw and not secret:
        # Set, but to spaces: a mistake that must not turn signing off.
        raise ConfigurationError("SIGNING_SECRET is blank; leave it unset for no signing")
    if not secret:
        return None
    if _optional(env, "SIGNING_SECRET_NAME"):
        raise ConfigurationError("set SIGNING_SECRET or SIGNING_SECRET_NAME, not both")
    return signing_secret(secret, "SIGNING_SECRET")


def _results_dir(env: Mapping[str, str]) -> str | None:
    folder = _optional(env, "RESULTS_DIR")
    if folder and _optional(env, "RESULTS_BUCKET"):
        raise ConfigurationError("set RESULTS_BUCKET or RESULTS_DIR, not both")
    return folder


def _boolean(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}")


def _redis_url(env: Mapping[str, str]) -> str | None:
    url = _optional(env, "REDIS_URL")
    if url is not None:
        from image_optimizer.resp import Endpoint  # socket and all: only when there is Redis

        try:
            Endpoint.from_url(url)
        except ValueError as error:
            # Its messages never repeat the URL, which may hold a password.
            raise ConfigurationError(f"REDIS_URL: {error}") from None
    return url


def _redis_iam_cache(env: Mapping[str, str]) -> str | None:
    cache = _optional(env, "REDIS_IAM_CACHE")
    if (cache is None) != (_optional(env, "REDIS_IAM_USER") is None):
        raise ConfigurationError("set REDIS_IAM_USER and REDIS_IAM_CACHE together, or neither")
    if cache is not None and not re.fullmatch(
        r"(serverless|replication-group)/[A-Za-z0-9-]+", cache
    ):
        raise ConfigurationError(
            "REDIS_IAM_CACHE must be serverless/<cache name> or replication-group/<id>, "
            f"got {cache!r}"
        )
    return cache


def _normalise_prefix(prefix: str) -> str:
    # "originals", "/originals/" and "originals/" all mean the folder "originals/".
    stripped = prefix.strip().strip("/")
    return f"{stripped}/" if stripped else ""
