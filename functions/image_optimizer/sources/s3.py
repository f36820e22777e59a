"""An S3 bucket (and optional key prefix) as the image source.

The image path makes one call, GetObject, and a new container pays for everything that call
imports: boto3 and its client are about 250 ms of a first miss (the cold-start benchmark). So
the read is a SigV4-signed GET over the standard library's HTTP client, on connections kept
alive between requests (a few, for the CLI's threads). Listing, which only tools do, uses boto3.

- Credentials: the environment's (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
  ``AWS_SESSION_TOKEN``, which Lambda sets), else botocore's own chain (profiles, SSO: local use).
- Endpoint: boto3's ``AWS_ENDPOINT_URL_S3`` (or ``AWS_ENDPOINT_URL``) when set, path-style, as
  the tests' local S3 server wants; else the bucket's regional virtual-hosted name, which the
  VPC's gateway endpoint serves (``AWS_REGION``, else ``AWS_DEFAULT_REGION``).
- Failures: a missing key is `ImageNotFound`, and so is AccessDenied (S3's answer to a missing
  key when the reader may not list), told apart in the log. Throttling (429, 503 SlowDown),
  5xx, S3's RequestTimeout, timeouts and dropped connections are tried again, ``max_attempts``
  in all, with botocore's standard backoff (a random wait up to 1 s, then 2 s, ...), then are
  `SourceUnavailable`. Anything else (no such bucket, bad credentials, another region) is an
  `S3Error`: a fault of the deployment, answered 500 and logged.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import threading
import time
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from image_optimizer.errors import ImageNotFound, SourceTooLarge, SourceUnavailable
from image_optimizer.sources import too_large_message
from image_optimizer.sources.sigv4 import Credentials, signed_headers


class S3Timeouts(NamedTuple):
    connect_seconds: float = 2.0
    read_seconds: float = 5.0
    max_attempts: int = 3


DEFAULT_TIMEOUTS = S3Timeouts()


class S3Error(RuntimeError):
    """S3 refused the read for a reason that is the deployment's to fix (a 500)."""


class _Endpoint(NamedTuple):
    secure: bool
    host: str  # with the port when it is not the scheme's
    path_prefix: str  # "/bucket" for path-style addressing, "" for a virtual-hosted bucket


_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
_RETRIED_CODES = frozenset({"SlowDown", "RequestTimeout", "Throttling", "InternalError"})
_ERROR_CODE = re.compile(rb"<Code>([^<]{1,64})</Code>")
_MAX_BACKOFF_SECONDS = 20.0
_IDLE_CONNECTIONS = 8
_UNAVAILABLE = "the image store is busy, failing or not answering; try again"


class S3Source:
    def __init__(
        self, bucket: str, prefix: str, max_bytes: int, timeouts: S3Timeouts = DEFAULT_TIMEOUTS
    ) -> None:
        self._bucket = bucket
        self._prefix = prefix
        self._max_bytes = max_bytes
        self._timeouts = timeouts
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}"

    def fetch(self, key: str) -> bytes:
        path = self._endpoint.path_prefix + "/" + quote(self._prefix + key, safe="/")
        attempt = 1
        while True:
            try:
                return self._get(path, key)
            except _Stale:
                continue  # a kept connection the server had closed: not an attempt
            except _Retry:
                if attempt == self._timeouts.max_attempts:
                    raise SourceUnavailable(_UNAVAILABLE) from None
                time.sleep(random.random() * min(2.0 ** (attempt - 1), _MAX_BACKOFF_SECONDS))
                attempt += 1

    def _get(self, path: str, key: str) -> bytes:
        connection, kept = self._connection()
        answered = False
        try:
            headers = signed_headers(
                "GET", self._endpoint.host, path, self._credentials(), self._region, "s3",
                datetime.now(UTC),
            )  # fmt: skip
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            answered = True
            if response.status != 200:
                body = response.read()
                self._release(connection, response)
                raise self._refusal(response.status, body, key)
            size = int(response.getheader("Content-Length") or -1)
            if size > self._max_bytes:
                connection.close()  # its unread body makes it useless for another request
                raise SourceTooLarge(too_large_message(size, self._max_bytes))
            data = response.read()
            if size >= 0 and len(data) != size:
                raise http.client.IncompleteRead(data, size - len(data))
            self._release(connection, response)
            return data
        except (OSError, http.client.HTTPException) as error:  # reset, timed out, cut short
            connection.close()
            stale = kept and not answered and not isinstance(error, TimeoutError)
            raise (_Stale if stale else _Retry) from None

    def _refusal(self, status: int, body: bytes, key: str) -> Exception:
        found = _ERROR_CODE.search(body)
        code = found[1].decode("ascii", "replace") if found else ""
        if code == "NoSuchKey" or (status == 404 and not code):
            return ImageNotFound(f"no image at {key!r}", reason="s3_no_such_key")
        if code == "AccessDenied" or (status == 403 and not code):
            # The same answer to the client, but the log says which: a missing key, or a
            # function that may not read this object (a policy or a KMS key to look at).
            return ImageNotFound(f"no image at {key!r}", reason="s3_access_denied")
        if status in _RETRIED_STATUSES or code in _RETRIED_CODES:
            return _Retry()
        return S3Error(f"S3 answered {status} {code or '(no code)'} reading s3://{self._bucket}")

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """A connection, and whether it was kept from an earlier read."""
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        endpoint = self._endpoint
        connection: http.client.HTTPConnection
        if endpoint.secure:
            connection = http.client.HTTPSConnection(
                endpoint.host, timeout=self._timeouts.connect_seconds, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(
                endpoint.host, timeout=self._timeouts.connect_seconds
            )
        try:
            connection.connect()
        except OSError:  # refused, unreachable, timed out
            connection.close()
            raise _Retry from None
        assert connection.sock is not None
        connection.sock.settimeout(self._timeouts.read_seconds)  # each read after the connect
        return connection, False

    def _release(
        self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse
    ) -> None:
        """Keep the connection for the next read, unless the server is closing it."""
        if response.will_close:
            connection.close()
            return
        with self._lock:
            if len(self._idle) < _IDLE_CONNECTIONS:
                self._idle.append(connection)
                return
        connection.close()

    @cached_property
    def _endpoint(self) -> _Endpoint:
        custom = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if custom:
            parts = urlsplit(custom)
            return _Endpoint(parts.scheme == "https", parts.netloc, f"/{self._bucket}")
        if "." in self._bucket:  # a dotted name does not match S3's certificate as a host
            return _Endpoint(True, f"s3.{self._region}.amazonaws.com", f"/{self._bucket}")
        return _Endpoint(True, f"{self._bucket}.s3.{self._region}.amazonaws.com", "")

    @cached_property
    def _region(self) -> str:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return region or str(self._botocore_session.get_config_variable("region") or "us-east-1")

    @cached_property
    def _tls(self) -> Any:
        import ssl

        return ssl.create_default_context()

    def _credentials(self) -> Credentials:
        access_key = os.environ.get("AWS_ACCESS_KEY_ID")
        secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY")
        if access_key and secret_key:
            return Credentials(access_key, secret_key, os.environ.get("AWS_SESSION_TOKEN"))
        found = self._botocore_session.get_credentials()
        if found is None:
            raise S3Error("no AWS credentials: set them in the environment or a profile")
        frozen = found.get_frozen_credentials()  # refreshed by botocore when they expire
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token)

    @cached_property
    def _botocore_session(self) -> Any:
        import botocore.session

        return botocore.session.get_session()

    @cached_property
    def _client(self) -> Any:  # botocore builds its client classes at run time
        import boto3

        return boto3.client("s3")

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


class _Retry(Exception):
    """This attempt failed in a way worth another."""


class _Stale(_Retry):
    """A kept connection failed before any answer: the server had closed it while it was idle
    (or the container was frozen); a new connection is tried at once."""
