"""Logging in to ElastiCache with IAM: the short-lived token a connection gives as its password.

The deployed cache answers only its IAM-enabled user (the template turns the default user
off), so a process inside the VPC without the function's role cannot read or fill it. The
token is a SigV4-presigned ``GET /?Action=connect&User=<user>`` of the cache's name, valid 15
minutes and signed with the function's own credentials (Lambda puts them in the environment);
it is made here with the standard library, as AWS's own token generator makes it with
botocore, and the tests hold the two to the same bytes. The client asks `IamAuth` for
credentials on every new connection; a connection once made stays logged in for 12 hours.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

from image_optimizer.resp import AuthenticationFailed
from image_optimizer.sources.sigv4 import Credentials, presigned_query

TOKEN_SECONDS = 900  # what ElastiCache accepts at most
_REUSE_SECONDS = 600  # a token this old is made again, well before it expires
_SERVICE = "elasticache"


def iam_auth_token(
    cache_name: str,
    user: str,
    region: str,
    credentials: Credentials,
    when: datetime,
    *,
    serverless: bool,
) -> str:
    """The password for ``user`` of the cache ``cache_name`` (a serverless cache's name, or a
    replication group's id): the presigned URL without its scheme."""
    params = {"Action": "connect", "User": user.lower()}
    if serverless:
        params["ResourceType"] = "ServerlessCache"
    host = cache_name.lower()
    query = presigned_query(host, "/", params, credentials, region, _SERVICE, when, TOKEN_SECONDS)
    return f"{host}/?{query}"


class IamAuth:
    """What the Redis client logs in with: the user and a token, made again when it grows old."""

    def __init__(
        self,
        cache_name: str,
        user: str,
        *,
        serverless: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cache_name = cache_name
        self._user = user.lower()  # ElastiCache keeps user ids in lower case
        self._serverless = serverless
        self._clock = clock
        self._token = ""
        self._made_at = -float("inf")

    def get_credentials(self) -> tuple[str, str]:
        now = self._clock()
        if now - self._made_at >= _REUSE_SECONDS:
            try:
                region = os.environ["AWS_REGION"]
                credentials = Credentials(
                    os.environ["AWS_ACCESS_KEY_ID"],
                    os.environ["AWS_SECRET_ACCESS_KEY"],
                    os.environ.get("AWS_SESSION_TOKEN"),
                )
            except KeyError as missing:
                # A failure of the cache like any other: the request is served without it.
                raise AuthenticationFailed(f"no {missing} to make an IAM token with") from None
            when = datetime.fromtimestamp(now, UTC)
            self._token = iam_auth_token(
                self._cache_name, self._user, region, credentials, when, serverless=self._serverless
            )
            self._made_at = now
        return self._user, self._token
