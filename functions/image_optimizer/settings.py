"""Every environment variable the service reads, read once, typed and validated.

A bad value stops the container at start-up with a message naming the variable, rather than
failing some requests later. The README lists each variable with its default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

MEBIBYTE = 1024 * 1024


class ConfigurationError(ValueError):
    """An environment variable is missing, malformed or out of range."""


@dataclass(frozen=True, slots=True)
class Settings:
    source_bucket: str | None = None
    source_prefix: str = ""
    source_dir: str | None = None
    max_dimension: int = 4096
    max_source_bytes: int = 32 * MEBIBYTE
    max_source_pixels: int = 50_000_000
    cache_control: str = "public, max-age=86400"
    memory_cache_bytes: int = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        bucket = _optional(env, "SOURCE_BUCKET")
        folder = _optional(env, "SOURCE_DIR")
        if bucket and folder:
            raise ConfigurationError("set SOURCE_BUCKET or SOURCE_DIR, not both")
        if not bucket and not folder:
            raise ConfigurationError("set SOURCE_BUCKET (S3) or SOURCE_DIR (a local folder)")
        defaults = cls()
        return cls(
            source_bucket=bucket,
            source_prefix=_normalise_prefix(env.get("SOURCE_PREFIX", "")),
            source_dir=folder,
            max_dimension=_integer(env, "MAX_DIMENSION", defaults.max_dimension, 1, 16384),
            max_source_bytes=_integer(env, "MAX_SOURCE_BYTES", defaults.max_source_bytes, 1, 2**40),
            max_source_pixels=_integer(
                env, "MAX_SOURCE_PIXELS", defaults.max_source_pixels, 1, 2**31
            ),
            cache_control=_optional(env, "CACHE_CONTROL") or defaults.cache_control,
            memory_cache_bytes=_integer(env, "MEMORY_CACHE_BYTES", 0, 0, 2**40),
        )


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be from {low} to {high}, got {value}")
    return value


def _normalise_prefix(prefix: str) -> str:
    # "originals", "/originals/" and "originals/" all mean the folder "originals/".
    stripped = prefix.strip().strip("/")
    return f"{stripped}/" if stripped else ""
