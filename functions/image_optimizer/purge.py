"""Purge on change: S3 events in, every variant of each changed original out of the cache.

S3 tells EventBridge when an object is created (a new or replaced original) or deleted; a rule
queues those events on SQS, and SQS hands them to this function in batches. It runs in the VPC,
beside the cache, and removes every variant of each original the batch names, from the cache
and from the results store (where results too large for a response are kept). CloudFront's API
is outside the VPC, so the originals it purged go on a second queue (through the VPC's SQS
endpoint) to the invalidation function (`image_optimizer.invalidation`). The order is the point:
CloudFront is invalidated only once the cache no longer holds the old images, or it would fetch
them from the cache again.

A message whose purge fails is reported back to SQS (a partial batch response), which hands it
over again and, after a few tries, moves it to a dead-letter queue that an alarm watches.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from image_optimizer.cache import Cache, CacheUnavailable, cache_from_settings
from image_optimizer.invalidation import ORIGINALS_PER_INVALIDATION
from image_optimizer.observability import logger
from image_optimizer.results import ResultStore, results_from_settings
from image_optimizer.settings import ConfigurationError, Settings

EVENT_TYPES = ("Object Created", "Object Deleted")
WATERMARK_INVALIDATION_MARGIN_SECONDS = 60
MAX_SQS_DELAY_SECONDS = 900


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def purging_cache() -> Cache:
    return cache_from_settings(settings())


@cache
def results() -> ResultStore | None:
    return results_from_settings(settings())


def purge_original(key: str) -> int:
    """Every variant of the original ``key`` out of the cache and the results store; how many.
    Raises `CacheUnavailable` when either cannot be done."""
    store = results()
    return purging_cache().purge(key) + (store.purge(key) if store is not None else 0)


def changed_original(event: Mapping[str, Any], bucket: str, prefix: str) -> str | None:
    """The image key that an S3 event (as EventBridge delivers it) is about, or None when it
    is about no original of this service. EventBridge gives the object key as it is, not
    URL-encoded as S3's older notifications do. Raises KeyError or TypeError when ``event`` is
    not an S3 event at all."""
    detail = event["detail"]
    if event["source"] != "aws.s3" or event["detail-type"] not in EVENT_TYPES:
        return None
    key = str(detail["object"]["key"])
    if detail["bucket"]["name"] != bucket or not key.startswith(prefix) or key.endswith("/"):
        return None  # another bucket, outside the prefix, or a console's folder marker
    return key[len(prefix) :] or None


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    configured = settings()
    if configured.source_bucket is None:
        raise ConfigurationError("the purge function needs SOURCE_BUCKET: it acts on S3's events")
    messages: defaultdict[str, list[str]] = defaultdict(list)  # image key -> message ids
    failed: list[str] = []
    for record in event["Records"]:
        try:
            body = json.loads(record["body"])
            key = changed_original(body, configured.source_bucket, configured.source_prefix)
        except (ValueError, KeyError, TypeError):
            # Never purgeable: left to the dead-letter queue, where someone can look at it.
            logger.error("not an S3 event from EventBridge", extra={"body": record["body"][:500]})
            failed.append(record["messageId"])
            continue
        if key is not None:
            messages[key].append(record["messageId"])
    purged: dict[str, int] = {}
    for key, message_ids in messages.items():
        try:
            purged[key] = purge_original(key)
        except CacheUnavailable as error:
            logger.error("purge failed; SQS will hand it over again", extra={"reason": str(error)})
            failed.extend(message_ids)
    if purged and configured.invalidation_queue_url:
        try:
            hand_over(configured.invalidation_queue_url, sorted(purged))
            if watermarks_among(configured, purged):
                hand_over_every_image(
                    configured.invalidation_queue_url, configured.watermark_check_seconds
                )
        except (BotoCoreError, ClientError) as error:  # purge again, and hand over again
            logger.error("handing over for invalidation failed", extra={"reason": str(error)})
            failed.extend(message_id for key in purged for message_id in messages[key])
    logger.info(
        "purge",
        extra={
            "originals": len(purged),
            "variants": sum(purged.values()),
            "failed_messages": len(failed),
            "keys": sorted(purged)[:20],
        },
    )
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def watermarks_among(configured: Settings, keys: Iterable[str]) -> list[str]:
    """The watermarks whose picture is one of ``keys``."""
    changed = set(keys)
    return sorted(name for name, mark in configured.watermarks.items() if mark.key in changed)


def hand_over(queue_url: str, keys: list[str]) -> None:
    """Queue ``keys`` for CloudFront's invalidation: each message the originals of one
    invalidation, as many as CloudFront's limit on wildcard paths in progress allows."""
    for start in range(0, len(keys), ORIGINALS_PER_INVALIDATION):
        batch = keys[start : start + ORIGINALS_PER_INVALIDATION]
        _sqs().send_message(QueueUrl=queue_url, MessageBody=json.dumps({"keys": batch}))


def hand_over_every_image(queue_url: str, check_seconds: int) -> None:
    """Queue the invalidation of every image URL, for a replaced watermark picture: any of
    them may carry it. It waits until every function has read the new picture (they read it
    again every ``check_seconds``), and a minute more: an invalidation before that would let
    CloudFront keep images made with the old one again. Nothing is taken from the cache: the
    new picture's results have keys of their own."""
    delay = min(check_seconds + WATERMARK_INVALIDATION_MARGIN_SECONDS, MAX_SQS_DELAY_SECONDS)
    _sqs().send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps({"keys": [], "prefixes": [""]}),
        DelaySeconds=delay,
    )


def _sqs() -> Any:  # botocore builds its client classes at run time
    import boto3

    return boto3.client("sqs")
