"""Purge on change: S3's events through the purge function (real redis-server, SQS on moto's
server), the invalidation function (CloudFront on moto's server), and purges by hand."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from PIL import Image

from conftest import BUCKET, EVENTS, PREFIX, load_event
from edge_runner import at_the_edge
from image_optimizer import invalidation, purge
from image_optimizer.cache import CachedImage, cache_key
from image_optimizer.cache.redis import RedisCache, RedisOptions
from image_optimizer.invalidation import invalidation_paths
from image_optimizer.request import parse_query
from image_optimizer.results import result_path
from image_optimizer.results.folder import FolderResultStore
from image_optimizer.results.s3 import S3ResultStore
from image_optimizer.service import ImageService
from image_optimizer.sources.folder import FolderSource
from image_optimizer_cli.lambda_events import LocalContext
from image_optimizer_cli.main import main
from images import decode, encode
from local_server import fetch, start_server

QUERIES = ("w=100", "w=200&format=webp")
Configure = Callable[..., None]


def created(key: str, bucket: str = "my-images", kind: str = "Object Created") -> dict[str, Any]:
    return {
        "source": "aws.s3",
        "detail-type": kind,
        "detail": {"bucket": {"name": bucket}, "object": {"key": key}},
    }


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (created("originals/a/b.jpg"), "a/b.jpg"),
        (created("originals/photos/my cat+1.jpg"), "photos/my cat+1.jpg"),  # not URL-encoded
        (created("originals/a.jpg", kind="Object Deleted"), "a.jpg"),
        (created("originals/a.jpg", kind="Object Restore Completed"), None),
        (created("uploads/a.jpg"), None),  # outside the prefix
        (created("originals/"), None),  # the folder itself
        (created("originals/photos/"), None),  # a console's folder marker: no original
        (created("originals/a.jpg", bucket="another"), None),
        ({**created("originals/a.jpg"), "source": "aws.ec2"}, None),
    ],
)
def test_the_original_an_event_is_about(event: dict[str, Any], expected: str | None) -> None:
    assert purge.changed_original(event, "my-images", "originals/") == expected


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"source": "aws.s3"},
        {"detail": None, "source": "aws.s3", "detail-type": "Object Created"},
        [],
    ],
)
def test_what_is_not_an_s3_event_is_said_so(body: Any) -> None:
    with pytest.raises((KeyError, TypeError)):
        purge.changed_original(body, "my-images", "originals/")


CONTAINER_STATE = (
    purge.settings,
    purge.purging_cache,
    purge.results,
    invalidation.settings,
    invalidation.cloudfront,
)


@pytest.fixture
def fresh_functions() -> Iterator[None]:
    """Each test a new container of the purge and invalidation functions."""
    for built_once in CONTAINER_STATE:
        built_once.cache_clear()
    yield
    for built_once in CONTAINER_STATE:
        built_once.cache_clear()


@pytest.fixture
def queue(s3_endpoint: str) -> str:
    sqs = boto3.client("sqs")
    url: str = sqs.create_queue(QueueName=f"invalidation-{id(sqs)}")["QueueUrl"]
    return url


def fill(redis_url: str, samples_dir: Path, keys: tuple[str, ...]) -> ImageService:
    service = ImageService(
        FolderSource(samples_dir, 10**9),
        RedisCache(RedisOptions(redis_url)),
        max_source_pixels=10**8,
    )
    for key in keys:
        for query in QUERIES:
            assert service.serve(key, parse_query(query, None, 4096)).cache_status == "miss"
    return service


def statuses(service: ImageService, key: str) -> list[str]:
    return [service.serve(key, parse_query(query, None, 4096)).cache_status for query in QUERIES]


def received(queue_url: str) -> list[list[str]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(message["Body"])["keys"] for message in messages.get("Messages", [])]


class TestThePurgeFunction:
    @pytest.fixture(autouse=True)
    def _deployed(
        self, configure: Configure, redis_url: str, queue: str, fresh_functions: None
    ) -> None:
        configure(
            SOURCE_BUCKET="my-images",
            SOURCE_PREFIX="originals/",
            REDIS_URL=redis_url,
            INVALIDATION_QUEUE_URL=queue,
        )

    def test_the_sample_batch_purges_what_changed_and_hands_it_on(
        self, redis_url: str, samples_dir: Path, queue: str
    ) -> None:
        service = fill(
            redis_url,
            samples_dir,
            ("landscapes/main.jpg", "logos/badge.png", "photos/portrait.jpg"),
        )
        answer = purge.lambda_handler(load_event("sqs-purge-batch.json"), LocalContext())
        assert answer == {"batchItemFailures": []}
        assert statuses(service, "landscapes/main.jpg") == ["miss", "miss"]  # replaced
        assert statuses(service, "logos/badge.png") == [
            "miss",
            "miss",
        ]  # deleted (then made again here)
        assert statuses(service, "photos/portrait.jpg") == ["hit", "hit"]  # untouched
        assert received(queue) == [["landscapes/main.jpg", "logos/badge.png", "photos/my cat.jpg"]]

    def test_invoke_runs_it_on_the_sample_batch(
        self, redis_url: str, samples_dir: Path, queue: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`image-optimizer invoke` runs the function an event belongs to, as `sam local
        invoke` would."""
        service = fill(redis_url, samples_dir, ("landscapes/main.jpg",))
        assert main(["invoke", str(EVENTS / "sqs-purge-batch.json")]) == 0
        assert json.loads(capsys.readouterr().out) == {"batchItemFailures": []}
        assert statuses(service, "landscapes/main.jpg") == ["miss", "miss"]
        assert received(queue) == [["landscapes/main.jpg", "logos/badge.png", "photos/my cat.jpg"]]

    def test_results_kept_in_the_bucket_go_too(
        self, configure: Configure, redis_url: str, queue: str, s3: Any, samples_dir: Path
    ) -> None:
        s3.create_bucket(Bucket="my-results")
        configure(
            SOURCE_BUCKET="my-images",
            SOURCE_PREFIX="originals/",
            REDIS_URL=redis_url,
            INVALIDATION_QUEUE_URL=queue,
            RESULTS_BUCKET="my-results",
        )
        store = S3ResultStore("my-results", days=7)
        big = CachedImage(b"large", "image/webp", '"0123"', 1, 1)
        for key in ("landscapes/main.jpg", "photos/portrait.jpg"):
            store.put(cache_key(key, parse_query("q=100", None, 4096)), big)
        fill(redis_url, samples_dir, ("landscapes/main.jpg",))
        assert purge.purge_original("landscapes/main.jpg") == len(QUERIES) + 1  # cached, stored
        assert purge.lambda_handler(load_event("sqs-purge-batch.json"), LocalContext()) == {
            "batchItemFailures": []
        }
        left = [item["Key"] for item in s3.list_objects_v2(Bucket="my-results")["Contents"]]
        assert left == [
            result_path(cache_key("photos/portrait.jpg", parse_query("q=100", None, 4096)), big)
        ]

    def test_a_failed_purge_is_handed_back_to_sqs_and_nothing_is_invalidated(
        self, configure: Configure, refused_port: int, queue: str
    ) -> None:
        configure(
            SOURCE_BUCKET="my-images",
            SOURCE_PREFIX="originals/",
            REDIS_URL=f"redis://127.0.0.1:{refused_port}/0",
            INVALIDATION_QUEUE_URL=queue,
        )
        event = load_event("sqs-purge-batch.json")
        answer = purge.lambda_handler(event, LocalContext())
        purgeable = [record["messageId"] for record in event["Records"][:3]]
        assert answer == {"batchItemFailures": [{"itemIdentifier": i} for i in purgeable]}
        assert received(queue) == []

    def test_a_message_that_is_no_s3_event_goes_back_alone(self, queue: str) -> None:
        event = load_event("sqs-purge-batch.json")
        event["Records"][1]["body"] = "not json at all"
        answer = purge.lambda_handler(event, LocalContext())
        assert answer == {
            "batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]
        }
        assert received(queue) == [["landscapes/main.jpg", "logos/badge.png"]]

    def test_when_the_hand_over_fails_the_purged_messages_go_back(
        self, configure: Configure, redis_url: str, refused_port: int
    ) -> None:
        configure(
            SOURCE_BUCKET="my-images",
            SOURCE_PREFIX="originals/",
            REDIS_URL=redis_url,
            INVALIDATION_QUEUE_URL=f"http://127.0.0.1:{refused_port}/123456789012/no-such-queue",
        )
        event = load_event("sqs-purge-batch.json")
        answer = purge.lambda_handler(event, LocalContext())
        assert len(answer["batchItemFailures"]) == 3

    def test_a_bulk_upload_is_handed_over_one_invalidation_a_message(self, queue: str) -> None:
        keys = [f"products/{index:05d}/{'x' * 900}.jpg" for index in range(10)]
        purge.hand_over(queue, keys)
        batches = []
        while messages := received(queue):
            batches.extend(messages)
        assert sorted(batches) == [keys[0:3], keys[3:6], keys[6:9], keys[9:]]
        assert invalidation.ORIGINALS_PER_INVALIDATION == 3  # six wildcard paths a message

    def test_the_count_is_of_the_variants_purged(self, redis_url: str, samples_dir: Path) -> None:
        fill(redis_url, samples_dir, ("landscapes/main.jpg",))
        assert purge.purge_original("landscapes/main.jpg") == len(QUERIES)
        assert purge.purge_original("landscapes/main.jpg") == 0


def invalidated_paths(distribution_id: str) -> list[list[str]]:
    cloudfront = boto3.client("cloudfront")
    listed = cloudfront.list_invalidations(DistributionId=distribution_id)["InvalidationList"]
    return [
        cloudfront.get_invalidation(DistributionId=distribution_id, Id=item["Id"])["Invalidation"][
            "InvalidationBatch"
        ]["Paths"]["Items"]
        for item in listed.get("Items", [])
    ]


class TestTheInvalidationFunction:
    def test_one_invalidation_for_the_sample_batch(
        self, configure: Configure, distribution: str, fresh_functions: None
    ) -> None:
        configure(SOURCE_BUCKET="my-images", DISTRIBUTION_ID=distribution)
        answer = invalidation.lambda_handler(
            load_event("sqs-invalidation-batch.json"), LocalContext()
        )
        assert answer == {"batchItemFailures": []}
        assert invalidated_paths(distribution) == [
            [
                *paths_of("landscapes/main.jpg", "landscapes/main.jpg"),
                *paths_of("logos/badge.png", "logos/badge.png"),
                *paths_of("photos/my cat.jpg", "photos/my%20cat.jpg"),
            ]
        ]

    def test_a_refused_invalidation_goes_back_to_sqs(
        self, configure: Configure, s3_endpoint: str, fresh_functions: None
    ) -> None:
        configure(SOURCE_BUCKET="my-images", DISTRIBUTION_ID="ENOSUCHDISTRIBUTION")
        event = load_event("sqs-invalidation-batch.json")
        answer = invalidation.lambda_handler(event, LocalContext())
        assert answer == {
            "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]
        }


def paths_of(key: str, encoded: str) -> list[str]:
    """An original's three paths, its results' hash computed here from the documented form
    (the first 32 hex digits of the SHA-256 of the key)."""
    original = hashlib.sha256(key.encode()).hexdigest()[:32]
    return [f"/images/{encoded}", f"/images/{encoded}?*", f"/results/{original}/*"]


@pytest.mark.parametrize(
    ("keys", "paths"),
    [
        (["a.jpg", "a.jpg"], paths_of("a.jpg", "a.jpg")),
        (["p/été 1.jpg"], paths_of("p/été 1.jpg", "p/%C3%A9t%C3%A9%201.jpg")),
        (["weird*name.jpg"], paths_of("weird*name.jpg", "weird%2Aname.jpg")),  # not a wildcard
        (["p"], paths_of("p", "p")),  # /images/p* would take /images/photos/ with it
        (["logos/", "", "logo.png"], paths_of("logo.png", "logo.png")),  # a folder marker: none
        ([f"{i}.jpg" for i in range(8)], [p for i in range(8) for p in paths_of(f"{i}.jpg", f"{i}.jpg")]),  # noqa: E501
    ],
)  # fmt: skip
def test_each_original_costs_its_own_paths_and_reaches_no_other(
    keys: list[str], paths: list[str]
) -> None:
    assert invalidation_paths(keys) == paths


def test_the_paths_are_spelt_as_the_edge_spells_the_key() -> None:
    """CloudFront caches /images/<key> as the CloudFront Function rewrote it; an invalidation
    spelt otherwise would miss it."""
    keys = ["photos/my cat (1).jpg", "café/ü.png", "a+b/c~d.jpg", "x!*'.jpg"]
    uris = ["/images/" + quote(key, safe="/!*'()+~") for key in keys]  # as a browser may send
    for key, uri in zip(keys, uris, strict=True):
        [edge] = at_the_edge(["w=1"], "*/*", uri=uri)
        assert edge.get("uri", uri) == invalidation_paths([key])[0], key


class TestPurgeByHand:
    def test_keys_and_a_prefix_from_the_cache_and_cloudfront(
        self,
        samples_dir: Path,
        redis_url: str,
        distribution: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        service = fill(
            redis_url,
            samples_dir,
            ("landscapes/main.jpg", "logos/badge.png", "photos/portrait.jpg"),
        )
        code = main(
            [
                "purge", "landscapes/main.jpg", "--prefix", "logos/", "--source", str(samples_dir),
                "--cache", redis_url, "--distribution", distribution,
            ]
        )  # fmt: skip
        assert code == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0] == f"purged 2 originals, 4 variants, from redis ({redis_url})"
        listed = boto3.client("cloudfront").list_invalidations(DistributionId=distribution)
        expected = [
            *paths_of("landscapes/main.jpg", "landscapes/main.jpg"),
            *paths_of("logos/badge.png", "logos/badge.png"),
            "/images/logos/*",  # asked for by name: everything under it
        ]
        assert out[1] == (
            f"CloudFront invalidation {listed['InvalidationList']['Items'][0]['Id']} of "
            f"{distribution}: {', '.join(expected)}"
        )
        assert statuses(service, "landscapes/main.jpg") == ["miss", "miss"]
        assert statuses(service, "logos/badge.png") == ["miss", "miss"]
        assert statuses(service, "photos/portrait.jpg") == ["hit", "hit"]
        assert invalidated_paths(distribution) == [expected]

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["purge", "--cache", "redis://h:1/0"], "name the originals"),
            (["purge", "a.jpg"], "purge acts on a shared cache"),
            (["purge", "a.jpg", "--cache", "memory"], "purge acts on a shared cache"),
        ],
    )
    def test_what_cannot_be_purged_is_a_usage_error(
        self,
        configure: Configure,
        args: list[str],
        message: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        configure()
        with pytest.raises(SystemExit) as exited:
            main(args)
        assert exited.value.code == 2
        assert message in capsys.readouterr().err

    def test_results_kept_in_a_folder_go_too(
        self,
        configure: Configure,
        samples_dir: Path,
        redis_url: str,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        configure(RESULTS_DIR=str(tmp_path / "results"))
        store = FolderResultStore(tmp_path / "results")
        big = CachedImage(b"large", "image/png", '"0123"', 1, 1)
        location = store.put(cache_key("logos/badge.png", parse_query("", None, 4096)), big)
        args = ["purge", "logos/badge.png", "--source", str(samples_dir), "--cache", redis_url]
        assert main(args) == 0
        assert store.read(location.removeprefix("/")) is None
        assert capsys.readouterr().out == (
            f"purged 1 originals, 1 variants, from redis ({redis_url}) and {tmp_path / 'results'}\n"
        )

    def test_a_cache_that_cannot_purge_fails_the_command(
        self,
        configure: Configure,
        samples_dir: Path,
        refused_port: int,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        configure()
        code = main(
            [
                "purge",
                "a.jpg",
                "--source",
                str(samples_dir),
                "--cache",
                f"redis://127.0.0.1:{refused_port}/0",
            ]
        )
        assert code == 1
        assert "purge failed: the purge of 'a.jpg' failed" in capsys.readouterr().err


class TestInvokeRunsTheFunctionAnEventBelongsTo:
    """`image-optimizer invoke` on the SQS sample events runs the invalidation function (the
    purge function's own tests run it on its event), and says what stops it."""

    def test_the_invalidation_batch_invalidates(
        self,
        configure: Configure,
        distribution: str,
        fresh_functions: None,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        configure(SOURCE_BUCKET="my-images", DISTRIBUTION_ID=distribution)
        assert main(["invoke", str(EVENTS / "sqs-invalidation-batch.json")]) == 0
        assert json.loads(capsys.readouterr().out) == {"batchItemFailures": []}
        assert len(invalidated_paths(distribution)) == 1

    def test_messages_handed_back_fail_the_command(
        self,
        configure: Configure,
        s3_endpoint: str,
        fresh_functions: None,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        configure(SOURCE_BUCKET="my-images", DISTRIBUTION_ID="ENOSUCHDISTRIBUTION")
        assert main(["invoke", str(EVENTS / "sqs-invalidation-batch.json")]) == 1
        assert len(json.loads(capsys.readouterr().out)["batchItemFailures"]) == 2

    def test_a_function_without_its_settings_is_one_line_and_exit_2(
        self,
        configure: Configure,
        samples_dir: Path,
        fresh_functions: None,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        configure(SOURCE_DIR=str(samples_dir))
        with pytest.raises(SystemExit) as exited:
            main(["invoke", str(EVENTS / "sqs-purge-batch.json")])
        assert exited.value.code == 2
        assert capsys.readouterr().err == (
            "image-optimizer: error: image_optimizer.purge.lambda_handler: the purge function "
            "needs SOURCE_BUCKET: it acts on S3's events\n"
        )


def test_the_sample_events_are_where_the_readme_says() -> None:
    assert (EVENTS / "sqs-purge-batch.json").exists()
    assert (EVENTS / "sqs-invalidation-batch.json").exists()


class TestEndToEnd:
    """A deployment's shape: moto's S3, a redis-server, the local server as its own process.
    The original is replaced, then deleted; each time the S3 event goes through the purge
    function, and the next request answers the new picture, then a 404, with no TTL waited."""

    @pytest.mark.fresh_interpreter
    def test_replace_purge_serve_then_delete_purge_404(
        self,
        configure: Configure,
        clean_env: dict[str, str],
        s3: Any,
        s3_endpoint: str,
        redis_url: str,
        fresh_functions: None,
    ) -> None:
        key, bucket = "e2e/product.png", BUCKET
        s3.put_object(Bucket=bucket, Key=f"{PREFIX}{key}", Body=encode(solid("red"), "PNG"))
        env = {**clean_env, "AWS_ENDPOINT_URL_S3": s3_endpoint, "AWS_DEFAULT_REGION": "us-east-1"}
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        process, base = start_server(
            "--source", f"s3://{bucket}/{PREFIX}", "--cache", redis_url, env=env
        )
        url = f"{base}/images/{key}?w=40&format=png"
        configure(SOURCE_BUCKET=bucket, SOURCE_PREFIX=PREFIX, REDIS_URL=redis_url)
        try:
            for expected_cache in ("miss", "hit"):
                status, headers, body = fetch(url)
                assert (status, headers["x-cache"], colour_of(body)) == (200, expected_cache, "red")

            s3.put_object(Bucket=bucket, Key=f"{PREFIX}{key}", Body=encode(solid("blue"), "PNG"))
            assert colour_of(fetch(url)[2]) == "red"  # the cache still holds the old picture
            delivered(bucket, f"{PREFIX}{key}", "Object Created")
            status, headers, body = fetch(url)
            assert (status, headers["x-cache"], colour_of(body)) == (200, "miss", "blue")

            s3.delete_object(Bucket=bucket, Key=f"{PREFIX}{key}")
            assert fetch(url)[0] == 200  # cached
            delivered(bucket, f"{PREFIX}{key}", "Object Deleted")
            assert fetch(url)[0] == 404
        finally:
            process.terminate()
            process.wait(timeout=10)


def solid(colour: str) -> Image.Image:
    return Image.new("RGB", (64, 64), colour)


def colour_of(body: bytes) -> str:
    red, _, blue = decode(body).convert("RGB").getpixel((5, 5))  # type: ignore[misc]
    return "red" if red > blue else "blue"


def delivered(bucket: str, object_key: str, kind: str) -> None:
    """The event S3 sends EventBridge, as the purge queue hands it to the purge function."""
    event = load_event("sqs-purge-batch.json")
    record = event["Records"][0]
    body = json.loads(record["body"])
    body["detail-type"] = kind
    body["detail"]["bucket"]["name"] = bucket
    body["detail"]["object"]["key"] = object_key
    record["body"] = json.dumps(body)
    event["Records"] = [record]
    assert purge.lambda_handler(event, LocalContext()) == {"batchItemFailures": []}
