"""An S3 bucket (and optional key prefix) as the image source.

One boto3 client per container, made on first use, with short timeouts and bounded retries
(standard mode: throttling and 5xx are retried with backoff) so that a slow S3 costs a request
its budget rather than the whole invocation. The endpoint can be
pointed elsewhere with boto3's own ``AWS_ENDPOINT_URL_S3`` (the tests use a local S3 server).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from image_optimizer.errors import ImageNotFound, SourceTooLarge, SourceUnavailable
from image_optimizer.sources import too_large_message


@dataclass(frozen=True, slots=True)
class S3Timeouts:
    connect_seconds: float = 2.0
    read_seconds: float = 5.0
    max_attempts: int = 3


_MISSING_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
# Without s3:ListBucket, S3 answers a missing key with 403 rather than 404.
_DENIED_CODES = frozenset({"AccessDenied", "403"})


class S3Source:
    def __init__(
        self, bucket: str, prefix: str, max_bytes: int, timeouts: S3Timeouts = S3Timeouts()
    ) -> None:
        self._bucket = bucket
        self._prefix = prefix
        self._max_bytes = max_bytes
        self._timeouts = timeouts

    @cached_property
    def _client(self) -> Any:  # botocore builds its client classes at run time
        # Imported here, not with the module: boto3 and botocore's config take ~350 ms to import
        # on the benchmark machine, and a container whose first requests are cache hits (the
        # usual case with a shared Redis) needs neither.
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=self._timeouts.connect_seconds,
            read_timeout=self._timeouts.read_seconds,
            retries={"total_max_attempts": self._timeouts.max_attempts, "mode": "standard"},
            max_pool_connections=16,
        )
        return boto3.client("s3", config=config)

    def describe(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}"

    def fetch(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=self._prefix + key)
        except ClientError as error:
            raise _translated(error, key) from error
        except BotoCoreError as error:  # connection refused, timeouts, dropped connections
            raise SourceUnavailable("the image store did not answer; try again") from error
        body = response["Body"]
        try:
            size = response["ContentLength"]
            if size > self._max_bytes:
                raise SourceTooLarge(too_large_message(size, self._max_bytes))
            return body.read()
        except BotoCoreError as error:
            raise SourceUnavailable("the image store did not answer; try again") from error
        finally:
            body.close()

    def list_keys(self, prefix: str = "", limit: int = 10_000) -> list[str]:
        keys: list[str] = []
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=self._prefix + prefix
        )
        for page in pages:
            keys.extend(item["Key"][len(self._prefix) :] for item in page.get("Contents", []))
            if len(keys) >= limit:
                break
        return sorted(keys)[:limit]


def _translated(error: ClientError, key: str) -> Exception:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    if code in _MISSING_CODES:
        return ImageNotFound(f"no image at {key!r}", reason="s3_no_such_key")
    if code in _DENIED_CODES:
        # The same answer to the client, but the log says which: a missing key, or a
        # function that may not read this object (a policy or a KMS key to look at).
        return ImageNotFound(f"no image at {key!r}", reason="s3_access_denied")
    if status >= 500 or status == 429 or code in ("SlowDown", "Throttling", "RequestTimeout"):
        return SourceUnavailable("the image store is busy or failing; try again")
    return error  # anything else (no such bucket, bad credentials) is a fault of ours: a 500
