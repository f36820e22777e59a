"""CloudFront invalidation of changed originals: the second half of a purge, outside the VPC.

The purge function (`image_optimizer.purge`) queues the originals it has removed from the
cache, a few to a message; SQS hands them here one message at a time, and one CloudFront
invalidation covers a message. Each original costs three paths, which cover its URLs and
nothing else: ``/images/<key>`` (the URL without a query), ``/images/<key>?*`` (every query
the CloudFront Function forwards) and ``/results/<original>/*`` (its results too large for a
response). No path ever reaches another original: a key ``p`` must not take ``/images/photos/``
with it, and a bulk upload must not empty the whole cache. The two wildcards of each are what
CloudFront limits (15 in progress at once), so a message holds at most three originals and two
messages are invalidated at once; a burst of uploads waits its turn in the queue, and a refused
invalidation (too many in progress, throttled) goes back to SQS to be tried again later.
CloudFront bills every path after the first 1,000 a month: three per original changed.

A replaced watermark picture may be on any image, so its message names the prefix ``""``:
``/images/*``, one path, every image URL (its results too large for a response are not touched:
the new picture's results have other keys, so nothing points at the old ones any more).
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

from image_optimizer.cache import original_of
from image_optimizer.observability import logger
from image_optimizer.request import IMAGES_PREFIX
from image_optimizer.results import RESULTS_PATH
from image_optimizer.settings import ConfigurationError, Settings

ORIGINALS_PER_INVALIDATION = 3
"""Two wildcard paths each: two invalidations at once stay under CloudFront's 15 in progress."""


def invalidation_paths(keys: Iterable[str], prefixes: Iterable[str] = ()) -> list[str]:
    """The CloudFront paths of every URL of the originals ``keys``, and of no other original;
    and of every URL under each of ``prefixes``, which only a person asks for (`image-optimizer
    purge --prefix`), knowing that it takes everything there."""
    paths = []
    for key in sorted(set(keys)):
        if not key or key.endswith("/"):
            continue  # no original: a folder marker, or nothing
        image = f"{IMAGES_PREFIX}{_encoded(key)}"
        paths += [image, f"{image}?*", f"/{RESULTS_PATH}{original_of(key)}/*"]
    return paths + [f"{IMAGES_PREFIX}{_encoded(prefix)}*" for prefix in sorted(set(prefixes))]


def invalidate(
    client: Any,
    distribution_id: str,
    keys: Iterable[str],
    reference: str,
    prefixes: Iterable[str] = (),
) -> str:
    """Ask CloudFront to forget every URL of the originals ``keys`` (and under ``prefixes``);
    returns the invalidation id."""
    paths = invalidation_paths(keys, prefixes)
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
    bodies = [json.loads(record["body"]) for record in records]
    keys = [key for body in bodies for key in body["keys"]]
    # A replaced watermark's message names the prefix "" (every image) instead of originals.
    prefixes = [prefix for body in bodies for prefix in body.get("prefixes", ())]
    reference = f"{context.aws_request_id}-{time.time_ns()}"
    try:
        invalidation = invalidate(cloudfront(), distribution_id, keys, reference, prefixes)
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
            "paths": invalidation_paths(keys, prefixes),
        },
    )
    return {"batchItemFailures": []}


def _encoded(path: str) -> str:
    return quote(path, safe="/")
