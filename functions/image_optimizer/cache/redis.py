"""Redis (ElastiCache) as the result cache, shared by every container.

Redis is an optimisation, never a dependency. Every call has a short timeout and no retries; the
first failure of a burst is logged and opens a breaker, so for ``cooldown`` seconds the container
treats every lookup as a miss and stores nothing instead of waiting on a dead Redis again; then
it tries again. Connection refused, timeouts, a Redis that accepts connections but never answers,
OOM and READONLY errors all take that path. A purge is the exception: it raises when it fails,
because its caller must try again.

The keys of one original (``o``, see `CacheKey`) and one of its variants (``v``), under the
configured prefix:

    <prefix>{o}:v             the image: a short binary header (format tag, length of a JSON
                              description), the description, then the image's bytes (or, for
                              an image too large to send, where the results store keeps it)
    <prefix>{o}:variants      the set of the original's variants, so a purge finds them all
    <prefix>{o}:lock:v        a claim: one request is making that image
    <prefix>{o}:epoch         how many times the original has been purged (lately)

The hash tag ``{o}`` puts everything about one original in one hash slot, so the commands that
touch several of these keys work on ElastiCache Serverless, which speaks only the cluster
protocol. A hit is one GET. Concurrent misses for one key are coalesced with a short-lived lock
(``SET NX PX``): the request that takes it does the work; the others poll, for a bounded time,
for the result or for the lock to go away, then do the work themselves. A claim reads the
original's epoch, and its store (one script: the image, its index entry and their lifetime)
happens only if the epoch is still the same, so an image made from an original that was
replaced or deleted meanwhile is never stored after the purge.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from functools import cached_property, partial
from typing import NamedTuple

from aws_lambda_powertools import Logger

from image_optimizer import SERVICE_NAME
from image_optimizer.cache import (
    GO_AHEAD,
    CachedImage,
    CacheKey,
    CacheUnavailable,
    Claim,
    Elsewhere,
    original_of,
)
from image_optimizer.cache.iam import IamAuth
from image_optimizer.resp import Credentials, Endpoint, RedisClient, RedisError, Script
from image_optimizer.settings import Settings

logger = Logger(service=SERVICE_NAME, child=True)

VALUE_TAG = b"IMGv1"
ELSEWHERE_TAG = b"LOCv1"  # the same length as VALUE_TAG
_HEADER_LENGTH_BYTES = 4
_FIRST_POLL_SECONDS = 0.005
_LONGEST_POLL_SECONDS = 0.05
EPOCH_SECONDS = 86400  # far longer than any image takes to make; then a purge is history
# Delete the lock only if it is still ours: a request slower than the lock's life must not
# release the claim of the request that took over.
_RELEASE_SCRIPT = Script("""
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
""")
# Keep the image only if the original has not been purged since the claim; the index of the
# original's variants lives as long as its newest image.
_STORE_SCRIPT = Script("""
if (redis.call("get", KEYS[3]) or "") ~= ARGV[3] then
    return 0
end
redis.call("set", KEYS[1], ARGV[1], "EX", ARGV[2])
redis.call("sadd", KEYS[2], ARGV[4])
redis.call("expire", KEYS[2], ARGV[2])
return 1
""")


class RedisOptions(NamedTuple):
    url: str
    key_prefix: str = "image-optimizer:"
    ttl_seconds: int = 3600
    max_item_bytes: int = 4 * 1024 * 1024
    timeout_seconds: float = 0.25
    cooldown_seconds: float = 30.0
    lock_seconds: float = 10.0
    wait_seconds: float = 3.0
    credentials: Credentials | None = None  # an ElastiCache IAM login, when there is one

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisOptions:
        assert settings.redis_url is not None
        credentials = None
        if settings.redis_iam_user and settings.redis_iam_cache:
            kind, _, name = settings.redis_iam_cache.partition("/")
            credentials = IamAuth(name, settings.redis_iam_user, serverless=kind == "serverless")
        return cls(
            url=settings.redis_url,
            key_prefix=settings.redis_key_prefix,
            ttl_seconds=settings.redis_ttl_seconds,
            max_item_bytes=settings.redis_max_item_bytes,
            timeout_seconds=settings.redis_timeout_seconds,
            cooldown_seconds=settings.redis_cooldown_seconds,
            lock_seconds=settings.redis_lock_seconds,
            wait_seconds=settings.redis_wait_seconds,
            credentials=credentials,
        )


class RedisCache:
    def __init__(self, options: RedisOptions) -> None:
        self._options = options
        self._breaker = _Breaker(options.cooldown_seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisCache:
        return cls(RedisOptions.from_settings(settings))

    @cached_property
    def _client(self) -> RedisClient:
        # Made on first use and kept for the container's life; it connects lazily, keeps its
        # connections, and never retries: one short timeout, then the breaker.
        return RedisClient(
            Endpoint.from_url(self._options.url),
            timeout_seconds=self._options.timeout_seconds,
            client_name=SERVICE_NAME,
            credentials=self._options.credentials,
        )

    @property
    def failures(self) -> int:
        """How many Redis calls have failed in this container."""
        return self._breaker.failures

    def describe(self) -> str:
        return f"redis ({_without_password(self._options.url)})"

    def get(self, key: CacheKey) -> CachedImage | None:
        if not self._breaker.allows():
            return None
        try:
            value = self._client.execute("GET", self._key(key.original, key.variant))
        except RedisError as error:
            self._breaker.trip("get", error)
            return None
        return decode_value(value) if isinstance(value, bytes) else None

    def claim(self, key: CacheKey, deadline: float) -> Claim:
        if not self._breaker.allows():
            return GO_AHEAD
        lock = self._key(key.original, f"lock:{key.variant}")
        token = uuid.uuid4().hex
        try:
            acquired, epoch = self._client.pipeline(
                [
                    ("SET", lock, token, "NX", "PX", int(self._options.lock_seconds * 1000)),
                    ("GET", self._key(key.original, "epoch")),
                ]
            )
            store = partial(self._store, key, epoch if isinstance(epoch, bytes) else b"")
            if acquired is not None:
                return Claim(store=store, release=partial(self._release, lock, token))
            image = self._wait_for(
                key, lock, min(deadline, time.monotonic() + self._options.wait_seconds)
            )
        except RedisError as error:
            self._breaker.trip("claim", error)
            return GO_AHEAD
        return Claim(image=image) if image is not None else Claim(store=store)

    def purge(self, image_key: str) -> int:
        original = original_of(image_key)
        epoch, variants = self._key(original, "epoch"), self._key(original, "variants")
        try:
            # The epoch first: from here on, no claim made before this purge can store.
            *_, members = self._client.transaction(
                [("INCR", epoch), ("EXPIRE", epoch, EPOCH_SECONDS), ("SMEMBERS", variants)]
            )
            found = members if isinstance(members, list) else []
            names = [member.decode("ascii") for member in found if isinstance(member, bytes)]
            if names:
                self._client.execute("DEL", *(self._key(original, n) for n in names), variants)
        except RedisError as error:
            raise CacheUnavailable(f"the purge of {image_key!r} failed: {error}") from error
        return len(names)

    def _key(self, original: str, name: str) -> str:
        return f"{self._options.key_prefix}{{{original}}}:{name}"

    def _store(self, key: CacheKey, epoch: bytes, image: CachedImage) -> None:
        if len(image.body) > self._options.max_item_bytes or not self._breaker.allows():
            return
        keys = [self._key(key.original, name) for name in (key.variant, "variants", "epoch")]
        try:
            self._client.run_script(
                _STORE_SCRIPT,
                keys=keys,
                args=[encode_value(image), self._options.ttl_seconds, epoch, key.variant],
            )
        except RedisError as error:
            self._breaker.trip("store", error)

    def _wait_for(self, key: CacheKey, lock: str, deadline: float) -> CachedImage | None:
        pause = _FIRST_POLL_SECONDS
        while time.monotonic() + pause < deadline:
            time.sleep(pause)
            pause = min(pause * 2, _LONGEST_POLL_SECONDS)
            value, locked = self._client.pipeline(
                [("GET", self._key(key.original, key.variant)), ("EXISTS", lock)]
            )
            image = decode_value(value) if isinstance(value, bytes) else None
            if image is not None:
                return image
            if not locked:
                break  # the other request finished without storing (too big, or it failed)
        return None

    def _release(self, lock: str, token: str) -> None:
        if not self._breaker.allows():
            return  # the lock expires by itself
        try:
            self._client.run_script(_RELEASE_SCRIPT, keys=[lock], args=[token])
        except RedisError as error:
            self._breaker.trip("release", error)


def encode_value(image: CachedImage) -> bytes:
    """The stored form: a tag, the description's length (4 bytes, big-endian), the description
    (compact JSON), the image's bytes. An image kept elsewhere has its own tag and no bytes, so
    that code which does not know of such images takes it for a miss, not an empty image."""
    description: dict[str, object] = {
        "type": image.content_type,
        "etag": image.etag,
        "w": image.width,
        "h": image.height,
    }
    if image.elsewhere is not None:
        elsewhere = image.elsewhere
        description.update(at=elsewhere.location, size=elsewhere.size, until=elsewhere.until)
    encoded = json.dumps(description, separators=(",", ":")).encode("utf-8")
    tag = VALUE_TAG if image.elsewhere is None else ELSEWHERE_TAG
    return b"".join((tag, len(encoded).to_bytes(_HEADER_LENGTH_BYTES, "big"), encoded, image.body))


def decode_value(value: bytes) -> CachedImage | None:
    """The image in a stored value; None for anything else (another version's format, garbage)."""
    tag = value[: len(VALUE_TAG)]
    if tag not in (VALUE_TAG, ELSEWHERE_TAG):
        return None
    start = len(VALUE_TAG) + _HEADER_LENGTH_BYTES
    length = int.from_bytes(value[len(VALUE_TAG) : start], "big")
    try:
        description = json.loads(value[start : start + length])
        elsewhere = None
        if tag == ELSEWHERE_TAG:
            elsewhere = Elsewhere(
                str(description["at"]), int(description["size"]), float(description["until"])
            )
        return CachedImage(
            body=value[start + length :],
            content_type=str(description["type"]),
            etag=str(description["etag"]),
            width=int(description["w"]),
            height=int(description["h"]),
            elsewhere=elsewhere,
        )
    except (ValueError, KeyError, TypeError):
        return None


class _Breaker:
    """Opens on a failure and stays open for ``cooldown`` seconds; logs once per opening."""

    def __init__(self, cooldown: float) -> None:
        self._cooldown = cooldown
        self._open_until = 0.0
        self._lock = threading.Lock()
        self.failures = 0

    def allows(self) -> bool:
        return time.monotonic() >= self._open_until

    def trip(self, operation: str, error: RedisError) -> None:
        with self._lock:
            self.failures += 1
            now = time.monotonic()
            if now < self._open_until:
                return  # another thread already opened it for this burst
            self._open_until = now + self._cooldown
        logger.warning(
            "redis unavailable; serving without it",
            extra={
                "operation": operation,
                "error_type": type(error).__name__,
                "error": str(error)[:200],
                "retry_in_seconds": self._cooldown,
                "redis_failures": self.failures,
            },
        )


def _without_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user + ':' if user else ''}***@{host}"
