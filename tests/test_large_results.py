"""Results too large for a Lambda response: kept in the results store, answered with a redirect.

Through the service (where the limit is decided), the handler (the redirect and its lifetime),
the S3 store on moto's server, and the local server, which serves the stored result itself.
"""

from __future__ import annotations

import io
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from conftest import BUCKET, PREFIX, error_of, get
from image_optimizer import app
from image_optimizer.cache import CachedImage, Elsewhere, cache_key
from image_optimizer.cache.memory import MemoryCache
from image_optimizer.cache.redis import decode_value, encode_value
from image_optimizer.errors import OutputTooLarge
from image_optimizer.pipeline import render
from image_optimizer.request import parse_query
from image_optimizer.results.folder import FolderResultStore
from image_optimizer.results.s3 import S3ResultStore
from image_optimizer.service import ImageService, entity_tag
from image_optimizer.signing import sign_url
from image_optimizer.sources.folder import FolderSource
from images import decode, encode
from local_server import fetch, start_server

NOISE = "noise.png"
QUERY = "format=png"  # about 7.7 MB: more than a response carries
Configure = Callable[..., None]


@pytest.fixture(scope="module")
def noise() -> bytes:
    return encode(Image.effect_noise((1600, 1600), 128).convert("RGB"), "PNG")


@pytest.fixture
def originals(tmp_path: Path, noise: bytes) -> Path:
    folder = tmp_path / "originals"
    folder.mkdir()
    (folder / NOISE).write_bytes(noise)
    return folder


def made_directly(data: bytes, query: str) -> bytes:
    """The pipeline's own output for ``query``, with no limit: what the stored result must be."""
    return render(data, parse_query(query, None, 4096), max_pixels=10**9).body


class TestTheService:
    def test_the_limit_is_what_the_caller_can_send_and_not_a_byte_less(
        self, originals: Path, tmp_path: Path, noise: bytes
    ) -> None:
        size = len(made_directly(noise, QUERY))
        spec = parse_query(QUERY, None, 4096)
        for limit, kept_elsewhere in ((size, False), (size - 1, True)):
            store = FolderResultStore(tmp_path / f"results-{limit}")
            service = ImageService(
                FolderSource(originals, 10**9),
                MemoryCache(10**8),
                max_source_pixels=10**8,
                max_output_bytes=limit,
                results=store,
            )
            served = service.serve(NOISE, spec)
            assert (served.image.elsewhere is not None) == kept_elsewhere
            assert served.image.size == size

    def test_without_a_results_store_too_large_is_refused_and_nothing_kept(
        self, originals: Path
    ) -> None:
        cache = MemoryCache(10**8)
        service = ImageService(
            FolderSource(originals, 10**9), cache, max_source_pixels=10**8, max_output_bytes=1000
        )
        spec = parse_query(QUERY, None, 4096)
        with pytest.raises(OutputTooLarge):
            service.serve(NOISE, spec)
        assert cache.get(cache_key(NOISE, spec)) is None

    def test_a_kept_result_is_found_again_without_making_it(
        self, originals: Path, tmp_path: Path
    ) -> None:
        store = FolderResultStore(tmp_path / "results")
        service = ImageService(
            FolderSource(originals, 10**9),
            MemoryCache(10**8),
            max_source_pixels=10**8,
            max_output_bytes=1000,
            results=store,
        )
        spec = parse_query(QUERY, None, 4096)
        first, second = service.serve(NOISE, spec), service.serve(NOISE, spec)
        assert (first.cache_status, second.cache_status) == ("miss", "hit")
        assert second.image.elsewhere == first.image.elsewhere
        assert "upload" in first.timings
        assert second.image.body == b""  # the cache holds where it is, not the bytes

    @pytest.mark.parametrize(
        ("location", "until"),
        [
            ("/results/x", time.time() - 1),  # trusted no longer than it is kept
            # A value no code of ours wrote: never a redirect anywhere but into the results.
            ("https://elsewhere.example/x.png", math.inf),
            ("//elsewhere.example/x", math.inf),
            ("/images/a.jpg", math.inf),
        ],
    )
    def test_a_pointer_not_to_follow_is_a_miss_made_and_kept_again(
        self, originals: Path, tmp_path: Path, location: str, until: float
    ) -> None:
        cache = MemoryCache(10**8)
        spec = parse_query(QUERY, None, 4096)
        planted = CachedImage(b"", "image/png", '"x"', 1, 1, Elsewhere(location, 9, until))
        cache.claim(cache_key(NOISE, spec), time.monotonic() + 1).store(planted)
        service = ImageService(
            FolderSource(originals, 10**9),
            cache,
            max_source_pixels=10**8,
            max_output_bytes=1000,
            results=FolderResultStore(tmp_path / "results"),
        )
        served = service.serve(NOISE, spec)
        assert served.cache_status == "miss"
        assert served.image.elsewhere is not None
        assert served.image.elsewhere.location.startswith("/results/")
        assert served.image.elsewhere.location != location

    def test_a_kept_result_is_trusted_an_hour_less_than_the_bucket_keeps_it(
        self, originals: Path, s3: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        s3.create_bucket(Bucket="results-for-a-day")
        now = time.time()
        monkeypatch.setattr(time, "time", lambda: now)
        service = ImageService(
            FolderSource(originals, 10**9),
            MemoryCache(10**8),
            max_source_pixels=10**8,
            max_output_bytes=1000,
            results=S3ResultStore("results-for-a-day", days=1),
        )
        served = service.serve(NOISE, parse_query(QUERY, None, 4096))
        assert served.image.elsewhere is not None
        assert served.image.elsewhere.until == now + 86400 - 3600


class TestTheHandler:
    @pytest.fixture(autouse=True)
    def _with_a_results_folder(
        self, s3_handler: Configure, s3: Any, noise: bytes, tmp_path: Path
    ) -> None:
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}{NOISE}", Body=noise)
        s3_handler(RESULTS_DIR=str(tmp_path / "results"), MEMORY_CACHE_BYTES=str(64 * 2**20))

    def test_too_large_to_send_is_a_redirect_to_the_stored_bytes(self, noise: bytes) -> None:
        response = get(f"/images/{NOISE}?{QUERY}")
        assert response["statusCode"] == 302
        location = response["headers"]["Location"]
        assert re.fullmatch(r"/results/[0-9a-f]{32}/[0-9a-f]{64}/[0-9a-f]{32}", location)
        assert response["headers"]["Cache-Control"] == "public, max-age=86400"  # a folder keeps
        assert response["body"] in ("", None)
        kept = app.service().results
        assert isinstance(kept, FolderResultStore)
        content_type, body = kept.read(location.removeprefix("/"))  # type: ignore[misc]
        assert content_type == "image/png"
        assert body == made_directly(noise, QUERY)
        assert location.endswith(entity_tag(body).strip('"'))  # the path names the bytes
        again = get(f"/images/{NOISE}?{QUERY}", "HEAD")
        assert (again["statusCode"], again["headers"]["X-Cache"]) == (302, "hit")
        assert again["headers"]["Location"] == location

    def test_a_redirect_lasts_no_longer_than_what_it_points_at(
        self, s3_handler: Configure, tmp_path: Path
    ) -> None:
        s3_handler(
            RESULTS_DIR=str(tmp_path / "results"),
            MEMORY_CACHE_BYTES=str(64 * 2**20),
            CACHE_CONTROL="public, max-age=86400, s-maxage=31536000",
        )
        spec = parse_query(QUERY, None, 4096)
        soon = CachedImage(
            b"", "image/png", '"e"', 9, 9, Elsewhere("/results/o/v/e", 9, time.time() + 100)
        )
        app.service().cache.claim(cache_key(NOISE, spec), time.monotonic() + 1).store(soon)
        response = get(f"/images/{NOISE}?{QUERY}")
        lifetimes = re.fullmatch(
            r"public, max-age=(\d+), s-maxage=(\d+)", response["headers"]["Cache-Control"]
        )
        assert lifetimes is not None
        assert all(95 <= int(seconds) <= 100 for seconds in lifetimes.groups())

    def test_a_redirect_into_the_bucket_lasts_an_hour_less_than_the_bucket_keeps_it(
        self, s3_handler: Configure, s3: Any
    ) -> None:
        s3.create_bucket(Bucket="results-for-a-day")
        s3_handler(
            RESULTS_BUCKET="results-for-a-day",
            RESULTS_DAYS="1",
            CACHE_CONTROL="public, max-age=86400, s-maxage=31536000",
        )
        response = get(f"/images/{NOISE}?{QUERY}")
        assert response["statusCode"] == 302
        lifetimes = re.fullmatch(
            r"public, max-age=(\d+), s-maxage=(\d+)", response["headers"]["Cache-Control"]
        )
        assert lifetimes is not None
        assert all(82_790 <= int(seconds) <= 82_800 for seconds in lifetimes.groups())

    def test_a_signed_url_that_expires_is_a_redirect_that_expires_with_it(
        self, s3_handler: Configure, s3: Any
    ) -> None:
        """The bound docs/operations.md states: the redirect lasts no longer than the URL; the
        stored result itself lasts the bucket's days (its Expires), and no longer."""
        s3.create_bucket(Bucket="results-for-a-week")
        secret = "a-signing-secret-for-results"
        s3_handler(
            RESULTS_BUCKET="results-for-a-week",
            SIGNING_SECRET=secret,
            CACHE_CONTROL="public, max-age=86400, s-maxage=31536000",
        )
        url = sign_url(f"/images/{NOISE}?{QUERY}", secret.encode(), int(time.time()) + 60)
        response = get(url)
        assert response["statusCode"] == 302
        lifetimes = re.fullmatch(
            r"public, max-age=(\d+), s-maxage=(\d+)", response["headers"]["Cache-Control"]
        )
        assert lifetimes is not None
        assert all(55 <= int(seconds) <= 60 for seconds in lifetimes.groups())
        stored = s3.get_object(
            Bucket="results-for-a-week", Key=response["headers"]["Location"].removeprefix("/")
        )
        assert stored["Expires"].timestamp() <= time.time() + 7 * 86400

    def test_without_a_results_store_it_is_still_a_413(self, s3_handler: Configure) -> None:
        s3_handler()
        response = get(f"/images/{NOISE}?{QUERY}")
        assert response["statusCode"] == 413
        assert error_of(response)["code"] == "output_too_large"


def test_a_pointer_is_a_value_older_code_takes_for_a_miss() -> None:
    pointer = CachedImage(
        b"", "image/webp", '"e"', 6000, 4000, Elsewhere("/results/o/v/e", 12345678, 1.8e9)
    )
    value = encode_value(pointer)
    assert not value.startswith(b"IMGv1")  # what an older container reads as an image
    assert decode_value(value) == pointer
    folder = CachedImage(b"", "image/png", '"e"', 1, 1, Elsewhere("/results/o/v/e", 5, math.inf))
    assert decode_value(encode_value(folder)) == folder


class TestTheS3Store:
    def test_put_then_purge(self, s3_endpoint: str, s3: Any) -> None:
        bucket = "test-results"
        s3.create_bucket(Bucket=bucket)
        store = S3ResultStore(bucket, days=7)
        image = CachedImage(b"\x89PNG...", "image/png", entity_tag(b"\x89PNG..."), 1, 1)
        spec = parse_query(QUERY, None, 4096)
        location = store.put(cache_key("a/b.png", spec), image)
        stored = s3.get_object(Bucket=bucket, Key=location.removeprefix("/"))
        assert stored["Body"].read() == image.body
        assert stored["ContentType"] == "image/png"
        assert stored["CacheControl"] == "public, immutable"  # kept until it expires, no longer
        expires = stored["Expires"].timestamp()
        assert time.time() + 7 * 86400 - 60 < expires <= time.time() + 7 * 86400
        store.put(cache_key("a/b.png", parse_query("w=1", None, 4096)), image)
        store.put(cache_key("a/c.png", spec), image)
        assert store.purge("a/b.png") == 2
        assert [
            item["Key"].split("/")[1] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]
        ] == [cache_key("a/c.png", spec).original]
        assert store.lifetime_seconds == 7 * 86400


@pytest.mark.fresh_interpreter
def test_a_full_size_24_mp_photo_through_the_local_server(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    """What the output issue asked for: a full-size WebP and PNG of a 24 MP photo delivered
    through the local server, by way of the stored result, with the right bytes."""
    folder = tmp_path / "originals"
    folder.mkdir()
    photo = Image.open(Path(__file__).parent / "corpus" / "flickr-6mp.jpg")
    width, height = photo.size
    tiled = Image.new("RGB", (2 * width, 2 * height))  # 5450x4450: real detail, 24 MP
    for x, y in ((0, 0), (width, 0), (0, height), (width, height)):
        tiled.paste(photo, (x, y))
    (folder / "24mp.jpg").write_bytes(encode(tiled, "JPEG", quality=90))
    process, base = start_server("--source", str(folder), env=clean_env)
    try:
        for fmt, query in (("webp", "format=webp&q=100"), ("png", "format=png")):
            status, headers, _ = fetch(f"{base}/images/24mp.jpg?{query}", follow=False)
            assert status == 302
            status, result_headers, body = fetch(base + headers["location"])
            assert status == 200
            assert result_headers["content-type"] == f"image/{fmt}"
            assert headers["location"].endswith(entity_tag(body).strip('"'))
            assert result_headers["etag"] == entity_tag(body)  # as the README promises
            assert len(body) > 4_669_440  # it could not have been a response
            image = decode(body)
            assert (image.format, image.size) == (fmt.upper(), tiled.size)
            if fmt == "png":  # lossless: the pixels are the decoded JPEG's
                assert (
                    image.convert("RGB").tobytes()
                    == Image.open(io.BytesIO((folder / "24mp.jpg").read_bytes()))
                    .convert("RGB")
                    .tobytes()
                )
    finally:
        process.terminate()
        process.wait(timeout=10)
