"""CloudFront invalidation of changed originals: the second half of a purge, outside the VPC.

The purge function (`image_optimizer.purge`) queues the originals it has removed from the
cache; SQS hands them here in batches, and one CloudFront invalidation covers a batch. Each
original is the path of its URL with ``*`` after it, for every query string it was asked with.
While a batch names few originals each gets its own path; a bulk upload names many, and then
they are grouped under the directories they share, so it costs a handful of paths rather than
thousands: CloudFront bills every path after the first 1,000 a month, and allows at most 15
wildcard paths in progress at once. A refused invalidation (too many in progress, throttled)
goes back to SQS to be tried again later, and in the end to a dead-letter queue.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from functools import cache
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from image_optimizer.observability import logger
from image_optimizer.request import IMAGES_PREFIX
from image_optimizer.settings import ConfigurationError, Settings

MAX_PATHS = 7
"""Wildcard paths per invalidation: two batches at once stay under CloudFront's 15 in progress."""


def invalidation_paths(keys: Iterable[str], limit: int = MAX_PATHS) -> list[str]:
    """The CloudFront paths that cover every URL of the originals ``keys``: one per original
    while there are at most ``limit``, else their shared directories, as deep as ``limit``
    allows (in the end ``/images/*``)."""
    originals = sorted(set(keys))
    if len(originals) <= limit:
        return _uncovered([f"{IMAGES_PREFIX}{_encoded(key)}*" for key in originals])
    depth = max(key.count("/") for key in originals)
    while True:
        folders = _outermost(
            {"/".join(key.split("/")[: min(depth, key.count("/"))]) for key in originals}
        )
        if len(folders) <= limit or depth == 0:
            return [
                f"{IMAGES_PREFIX}{_encoded(folder)}{'/' if folder else ''}*" for folder in folders
            ]
        depth -= 1


def _uncovered(paths: list[str]) -> list[str]:
    """``paths`` without those another of them already covers (/images/a/* covers /images/a/b*)."""
    return [
        path
        for path in paths
        if not any(other != path and path.startswith(other[:-1]) for other in paths)
    ]


def _outermost(folders: set[str]) -> list[str]:
    """``folders`` without those inside another of them ("" is the root: inside it is all)."""
    return sorted(
        folder
        for folder in folders
        if not any(
            other != folder and (other == "" or folder.startswith(f"{other}/")) for other in folders
        )
    )


def invalidate(client: Any, distribution_id: str, keys: Iterable[str], reference: str) -> str:
    """Ask CloudFront to forget every URL of the originals ``keys``; returns the invalidation id."""
    paths = invalidation_paths(keys)
    answer = client.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": paths},
            "CallerReference": reference,
        },
    )
    invalidation: str = answer["Invalidation"]["Id"]
    return invalidation


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def cloudfront() -> Any:  # botocore builds its client classes at run time
    import boto3

    return boto3.client("cloudfront")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    distribution_id = settings().distribution_id
    if distribution_id is None:
        raise ConfigurationError("the invalidation function needs DISTRIBUTION_ID")
    records = event["Records"]
    keys = [key for record in records for key in json.loads(record["body"])["keys"]]
    reference = f"{context.aws_request_id}-{time.time_ns()}"
    try:
        invalidation = invalidate(cloudfront(), distribution_id, keys, reference)
    except (BotoCoreError, ClientError) as error:
        logger.error(
            "invalidation refused; SQS will hand it over again", extra={"reason": str(error)}
        )
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
    logger.info(
        "invalidation",
        extra={
            "invalidation_id": invalidation,
            "originals": len(set(keys)),
            "paths": invalidation_paths(keys),
        },
    )
    return {"batchItemFailures": []}


def _encoded(path: str) -> str:
    return quote(path, safe="/")
