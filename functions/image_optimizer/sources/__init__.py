"""Where original images come from: one small protocol, an S3 and a local-folder implementation.

A source answers ``fetch(key) -> bytes`` or raises `ImageNotFound` (no such object),
`SourceTooLarge` (more than ``max_bytes``, refused before the body is read) or
`SourceUnavailable` (the store failed; worth a retry).
"""

from __future__ import annotations

from typing import Protocol

from image_optimizer.settings import Settings


class Source(Protocol):
    def fetch(self, key: str) -> bytes: ...

    def list_keys(self, prefix: str = "", limit: int = 10_000) -> list[str]:
        """Keys under ``prefix``, sorted, at most ``limit`` (for tools: the Lambda never lists)."""
        ...

    def describe(self) -> str:
        """Where images come from, for logs and the local server's banner."""
        ...


def source_from_settings(settings: Settings) -> Source:
    if settings.source_bucket:
        # boto3 is only imported when S3 is used
        from image_optimizer.sources.s3 import S3Source, S3Timeouts

        return S3Source(
            settings.source_bucket,
            settings.source_prefix,
            settings.max_source_bytes,
            S3Timeouts(
                settings.s3_connect_timeout_seconds,
                settings.s3_read_timeout_seconds,
                settings.s3_max_attempts,
            ),
        )
    from image_optimizer.sources.folder import FolderSource

    assert settings.source_dir is not None  # Settings guarantees one of the two
    return FolderSource(settings.source_dir, settings.max_source_bytes)


def too_large_message(size: int, limit: int) -> str:
    return f"the source image is {size} bytes, more than the {limit} bytes allowed"
