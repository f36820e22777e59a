"""An S3 bucket as the results store: what CloudFront serves at ``/results/*`` in a deployment.

The bucket is the stack's own: private, encrypted, and a lifecycle rule deletes results after
``days`` (a variant asked for again is made and put again). Objects are written with their
Content-Type, an immutable Cache-Control (their path names their bytes) and an Expires header at
the end of those days, so that no copy at the edge or in a browser outlives the object; S3's
ETag, an MD5 of the bytes, is as strong a validator as the function's own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from image_optimizer.cache import CachedImage, CacheKey, CacheUnavailable
from image_optimizer.errors import ResultUnavailable
from image_optimizer.results import LASTING, original_prefix, result_path

_DELETE_BATCH = 1000  # what one DeleteObjects takes


class S3ResultStore:
    def __init__(self, bucket: str, days: int) -> None:
        self._bucket = bucket
        self._days = days

    @cached_property
    def _client(self) -> Any:  # botocore builds its client classes at run time
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=2,
            read_timeout=10,
            retries={"total_max_attempts": 3, "mode": "standard"},
        )
        return boto3.client("s3", config=config)

    @property
    def lifetime_seconds(self) -> float:
        return self._days * 86400

    def describe(self) -> str:
        return f"s3://{self._bucket}/results/ (kept {self._days} days)"

    def put(self, key: CacheKey, image: CachedImage) -> str:
        # botocore is imported on use, as boto3 is: a container that never stores a large
        # result (most) does not pay for it.
        from botocore.exceptions import BotoCoreError, ClientError

        path = result_path(key, image)
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=path,
                Body=image.body,
                ContentType=image.content_type,
                # Kept by browsers and CloudFront until the bucket's lifecycle removes it, and
                # no longer: a purge or a takedown is not undone by a copy at the edge.
                CacheControl=LASTING,
                Expires=datetime.now(UTC) + timedelta(days=self._days),
            )
        except (BotoCoreError, ClientError) as error:
            raise ResultUnavailable(
                "the result could not be stored to be sent; try again", reason=str(error)[:200]
            ) from error
        return f"/{path}"

    def purge(self, image_key: str) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        prefix = original_prefix(image_key)
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=prefix
            )
            keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
            for start in range(0, len(keys), _DELETE_BATCH):
                batch = keys[start : start + _DELETE_BATCH]
                self._client.delete_objects(
                    Bucket=self._bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
        except (BotoCoreError, ClientError) as error:
            raise CacheUnavailable(
                f"the purge of results of {image_key!r} failed: {error}"
            ) from error
        return len(keys)
