"""The cache logs in with IAM: tokens as AWS's own generator makes them, and a real redis-server
that answers only the user who presents one."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import botocore.auth
import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from image_optimizer.cache import CachedImage, CacheKey
from image_optimizer.cache.iam import IamAuth, iam_auth_token
from image_optimizer.cache.redis import RedisCache, RedisOptions
from image_optimizer.resp import AuthenticationFailed
from image_optimizer.settings import ConfigurationError, Settings
from image_optimizer.sources.sigv4 import Credentials
from redis_server import RedisServer

WHEN = datetime(2026, 12, 5, 10, 30, 15, tzinfo=UTC)
USER = "image-optimizer"


def botocores_token(
    cache: str,
    user: str,
    credentials: Credentials,
    serverless: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """The token as AWS's developer toolkit for ElastiCache makes it, with botocore."""
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: WHEN.replace(tzinfo=None))
    query = f"Action=connect&User={user}" + ("&ResourceType=ServerlessCache" if serverless else "")
    request = AWSRequest(method="GET", url=f"https://{cache}/?{query}")
    secret = BotocoreCredentials(
        credentials.access_key, credentials.secret_key, credentials.session_token
    )
    SigV4QueryAuth(secret, "elasticache", "eu-west-1", expires=900).add_auth(request)
    return request.url.removeprefix("https://")


@pytest.mark.parametrize("serverless", [True, False])
@pytest.mark.parametrize("session_token", [None, "FwoGZXIvYXdzE+/token=="])
def test_the_token_is_botocores(
    serverless: bool, session_token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = Credentials("AKIAEXAMPLE", "secret/key+with=chars", session_token)
    ours = iam_auth_token(
        "My-Cache", "Image-Optimizer", "eu-west-1", credentials, WHEN, serverless=serverless
    )
    theirs = botocores_token("my-cache", "image-optimizer", credentials, serverless, monkeypatch)
    assert ours == theirs
    assert ours.startswith("my-cache/?Action=connect&User=image-optimizer&")
    assert "X-Amz-Expires=900&" in ours


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Credentials:
    credentials = Credentials("AKIAEXAMPLE", "secret/key", "session")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", str(credentials.session_token))
    return credentials


def test_a_token_is_made_again_before_it_expires(aws_environment: Credentials) -> None:
    now = [WHEN.timestamp()]
    auth = IamAuth("my-cache", USER, serverless=True, clock=lambda: now[0])
    first = auth.get_credentials()
    now[0] += 599
    assert auth.get_credentials() == first  # reused while young
    now[0] += 1
    user, token = auth.get_credentials()
    assert user == USER
    assert token != first[1]
    assert "X-Amz-Date=20261205T104015Z" in token  # made at the new time


def test_only_the_user_with_a_token_may_use_the_cache(
    own_redis: RedisServer, aws_environment: Credentials
) -> None:
    """As the template configures ElastiCache: the default user off, the IAM user on. The
    server here takes the token the clock will make as that user's password."""
    clock = WHEN.timestamp
    token = iam_auth_token("my-cache", USER, "eu-west-1", aws_environment, WHEN, serverless=True)
    admin = own_redis.client()
    admin.acl_setuser(USER, enabled=True, passwords=[f"+{token}"], keys=["*"], commands=["+@all"])
    admin.acl_setuser("default", enabled=False)
    entry = CacheKey("o", "v")
    image = CachedImage(b"bytes", "image/png", '"e"', 1, 1)

    with_token = RedisCache(
        RedisOptions(
            own_redis.url, credentials=IamAuth("my-cache", USER, serverless=True, clock=clock)
        )
    )
    with_token.claim(entry, time.monotonic() + 1).store(image)
    assert with_token.get(entry) == image
    assert with_token.failures == 0

    as_another = IamAuth("my-cache", "someone-else", serverless=True, clock=clock)
    for credentials in (None, as_another):
        outsider = RedisCache(RedisOptions(own_redis.url, credentials=credentials))
        assert outsider.get(entry) is None  # refused: a miss, as for any failure of the cache
        assert outsider.failures == 1


def test_without_credentials_it_is_a_cache_failure_not_an_error(
    own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    cache = RedisCache(
        RedisOptions(own_redis.url, credentials=IamAuth("my-cache", USER, serverless=True))
    )
    assert cache.get(CacheKey("o", "v")) is None
    assert cache.failures == 1
    with pytest.raises(AuthenticationFailed, match="no 'AWS_ACCESS_KEY_ID'"):
        IamAuth("my-cache", USER, serverless=True).get_credentials()


@pytest.mark.parametrize(
    ("variables", "error"),
    [
        ({"REDIS_IAM_USER": USER}, "set REDIS_IAM_USER and REDIS_IAM_CACHE together"),
        ({"REDIS_IAM_CACHE": "serverless/c"}, "set REDIS_IAM_USER and REDIS_IAM_CACHE together"),
        (
            {"REDIS_IAM_USER": USER, "REDIS_IAM_CACHE": "my-cache"},
            "REDIS_IAM_CACHE must be serverless/<cache name> or replication-group/<id>",
        ),
    ],
)
def test_the_login_settings_come_together(variables: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigurationError, match=error):
        Settings.from_env({"SOURCE_BUCKET": "b", "REDIS_URL": "rediss://h:6379/0", **variables})


@pytest.mark.parametrize(
    ("kind", "serverless"), [("serverless", True), ("replication-group", False)]
)
def test_the_settings_choose_the_login(kind: str, serverless: bool) -> None:
    settings = Settings.from_env(
        {
            "SOURCE_BUCKET": "b",
            "REDIS_URL": "rediss://h:6379/0",
            "REDIS_IAM_USER": USER,
            "REDIS_IAM_CACHE": f"{kind}/my-cache",
        }
    )
    login = RedisOptions.from_settings(settings).credentials
    assert isinstance(login, IamAuth)
    assert (login._cache_name, login._user, login._serverless) == ("my-cache", USER, serverless)
