"""Shared fixtures: the real-world corpus, S3 over HTTP (moto's server on loopback), the handler.

Nothing is skipped: a test that needs something missing (the corpus, a free port) fails.
"""

from __future__ import annotations

import io
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image
from pillow_heif import register_heif_opener

from image_optimizer import app
from image_optimizer_cli.lambda_events import LocalContext, function_url_event, response_body
from image_optimizer_cli.samples import SAMPLES, ensure_samples
from redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
# The tests read HEIC files themselves (to make references); the service registers it only when
# a HEIF source arrives, which test_heif checks in a process of its own.
register_heif_opener()
CORPUS = ROOT / "tests" / "corpus"  # real-world files; README.md there says whence
EVENTS = ROOT / "events"
BUCKET = "test-originals"
PREFIX = "originals/"
CORPUS_FILES = sorted(
    path.name
    for path in CORPUS.glob("*")
    if path.suffix in {".jpg", ".png", ".gif", ".webp", ".avif", ".heic", ".heif"}
)


def pytest_configure(config: pytest.Config) -> None:
    if not CORPUS_FILES:
        raise pytest.UsageError(f"the image corpus is missing: expected files in {CORPUS}")


@pytest.fixture(autouse=True)
def environment_restored() -> Iterator[None]:
    """The CLI configures the handler by writing os.environ, as a deployment's environment would
    be set; what one test writes there must not reach the next."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def samples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_samples(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="session")
def s3_endpoint(samples_dir: Path) -> Iterator[str]:
    """moto's S3 server on a free loopback port, holding the samples and the corpus."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.delenv("AWS_PROFILE", raising=False)
        patch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
        patch.setenv("AWS_ENDPOINT_URL_SSM", endpoint)  # the same moto server
        patch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
        patch.setenv("AWS_ENDPOINT_URL_SQS", endpoint)
        patch.setenv("AWS_ENDPOINT_URL_CLOUDFRONT", endpoint)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        for key in SAMPLES:
            s3.upload_file(str(samples_dir / key), BUCKET, PREFIX + key)
        for name in CORPUS_FILES:
            s3.upload_file(str(CORPUS / name), BUCKET, f"{PREFIX}corpus/{name}")
        yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(shared_redis: RedisServer) -> str:
    """A real, empty redis-server shared by the tests that do not break it."""
    shared_redis.client().flushall()
    return shared_redis.url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, to kill, pause or fill."""
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment without the service's settings: for a server of its own."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SOURCE_", "MEMORY_CACHE", "MAX_", "REDIS_"))
    }
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    return env


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections: this test holds it bound without listening, so
    no other process can be answering there (as one may on a port merely found free, or on 9)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port: int = held.getsockname()[1]
        yield port


@pytest.fixture
def distribution(s3_endpoint: str) -> str:
    answer = boto3.client("cloudfront").create_distribution(
        DistributionConfig={
            "CallerReference": str(id(object())),
            "Comment": "test",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "optimizer",
                        "DomainName": "abc.lambda-url.us-east-1.on.aws",
                        "CustomOriginConfig": {
                            "HTTPPort": 80,
                            "HTTPSPort": 443,
                            "OriginProtocolPolicy": "https-only",
                        },
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "optimizer",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
            },
        }
    )
    identifier: str = answer["Distribution"]["Id"]
    return identifier


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=s3_endpoint)


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set the handler's environment, as a Lambda deployment would, and start a fresh container."""

    def apply(**variables: str) -> None:
        for name in (
            "SOURCE_BUCKET",
            "SOURCE_PREFIX",
            "SOURCE_DIR",
            "MAX_DIMENSION",
            "MAX_SOURCE_BYTES",
            "MAX_SOURCE_PIXELS",
            "MAX_ANIMATION_FRAMES",
            "CACHE_CONTROL",
            "MEMORY_CACHE_BYTES",
            "REDIS_URL",
            "REDIS_KEY_PREFIX",
            "REDIS_CACHE_EXPIRATION_SECONDS",
            "REDIS_MAX_ITEM_BYTES",
            "REDIS_TIMEOUT_SECONDS",
            "REDIS_COOLDOWN_SECONDS",
            "REDIS_LOCK_SECONDS",
            "REDIS_WAIT_SECONDS",
            "ALLOWED_WIDTHS",
            "ALLOWED_HEIGHTS",
            "ALLOWED_QUALITIES",
            "ALLOWED_DENSITIES",
            "RESPONSE_MARGIN_MS",
            "SIGNING_SECRET",
            "SIGNING_SECRET_NAME",
            "TRACING_ENABLED",
            "INVALIDATION_QUEUE_URL",
            "RESULTS_BUCKET",
            "RESULTS_DIR",
            "RESULTS_DAYS",
            "DISTRIBUTION_ID",
            "PRESETS",
            "UNSIGNED_URLS",
            "WATERMARKS",
            "WATERMARK_ALWAYS",
            "WATERMARK_CHECK_SECONDS",
            "FALLBACK_KEY",
            "CORS_ALLOW_ORIGIN",
        ):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        reset_container()

    yield apply
    reset_container()


def reset_container() -> None:
    """What a new Lambda container would start with: nothing built yet."""
    app.settings.cache_clear()
    app.service.cache_clear()
    app.signing_secret.cache_clear()


@pytest.fixture
def s3_handler(s3_endpoint: str, configure: Callable[..., None]) -> Callable[..., None]:
    """The handler reading from the test bucket; call it with more variables to change them."""

    def apply(**variables: str) -> None:
        configure(SOURCE_BUCKET=BUCKET, SOURCE_PREFIX=PREFIX, **variables)

    apply()
    return apply


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The handler's JSON log records, as Lambda would collect them from standard output."""
    stream = io.StringIO()
    handler = app.logger.registered_handler
    # Swapped, not setStream(): that flushes the stream it replaces, which may be one that an
    # earlier pytest session in this process (mutmut runs several) has closed.
    previous, handler.stream = handler.stream, stream

    def records() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line]

    yield records
    handler.stream = previous


def invoke_event(event: dict[str, Any]) -> dict[str, Any]:
    return app.lambda_handler(event, LocalContext())


def get(target: str, method: str = "GET", **headers: str) -> dict[str, Any]:
    """Invoke the handler with a Function URL event for ``target`` (path and query)."""
    return invoke_event(function_url_event(method, target, headers.items()))


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def decoded(response: dict[str, Any]) -> Image.Image:
    image = Image.open(io.BytesIO(response_body(response)))
    image.load()
    return image


def error_of(response: dict[str, Any]) -> dict[str, str]:
    assert response["headers"]["Content-Type"] == "application/json"
    error: dict[str, str] = json.loads(response["body"])["error"]
    return error
