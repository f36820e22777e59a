"""`image-optimizer warm` against a local folder and a real redis-server, failures included."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import reset_container
from image_optimizer_cli.main import main
from image_optimizer_cli.samples import SAMPLES
from redis_server import RedisServer

SIZES, FORMATS = "100,200", "webp,jpeg"
IMAGE_KEY = re.compile(rb"image-optimizer:\{[0-9a-f]{32}\}:[0-9a-f]{64}")  # not a lock or index


@pytest.fixture
def folder(samples_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The samples and, in the middle of the listing, a truncated JPEG."""
    copy = tmp_path / "images"
    shutil.copytree(samples_dir, copy)
    (copy / "m-broken").mkdir()
    data = (samples_dir / "landscapes" / "main.jpg").read_bytes()
    (copy / "m-broken" / "cut.jpg").write_bytes(data[:3000])
    for name in ("SOURCE_DIR", "SOURCE_BUCKET", "SOURCE_PREFIX", "REDIS_URL", "MEMORY_CACHE_BYTES"):
        monkeypatch.delenv(name, raising=False)
    reset_container()
    yield copy
    reset_container()


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    reset_container()  # each run is a new process in real use
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def summary(out: str) -> dict[str, str]:
    header, row = out.strip().splitlines()[-2:]
    names = [h for h in header.split("  ") if h.strip()]
    return dict(zip([n.strip() for n in names], row.split(), strict=False))


def test_warm_fills_redis_and_a_second_run_finds_it_all(
    folder: Path, redis_url: str, shared_redis: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "m-broken" / "cut.jpg").unlink()
    args = ["warm", "", "--sizes", SIZES, "--formats", FORMATS, "--source", str(folder)]
    code, out, _ = run([*args, "--cache", redis_url], capsys)
    assert code == 0
    first = summary(out)
    variants = len(SAMPLES) * 4  # two sizes, two formats
    assert (first["images"], first["variants"], first["made"], first["failed"]) == (
        str(len(SAMPLES)),
        str(variants),
        str(variants),
        "0",
    )
    stored = [k for k in shared_redis.client().keys("image-optimizer:*") if IMAGE_KEY.fullmatch(k)]
    assert len(stored) == variants
    code, out, _ = run([*args, "--cache", redis_url], capsys)
    assert code == 0
    assert summary(out)["cached"] == str(variants)


def test_a_failure_in_the_middle_is_reported_and_the_rest_is_warmed(
    folder: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["warm", "", "--sizes", SIZES, "--formats", FORMATS, "--source", str(folder)]
    code, out, err = run([*args, "--cache", redis_url, "--concurrency", "2"], capsys)
    assert code == 1
    result = summary(out)
    made = len(SAMPLES) * 4
    assert (result["images"], result["made"], result["failed"]) == (
        str(len(SAMPLES) + 1),
        str(made),
        "4",
    )
    failures = [line for line in err.splitlines() if line.startswith("failed:")]
    assert len(failures) == 4
    assert all("m-broken/cut.jpg" in line and "corrupt_image" in line for line in failures)


def test_a_prefix_limits_the_images(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        ["warm", "logos/", "--sizes", "64", "--source", str(folder), "--cache", "memory"], capsys
    )
    assert code == 0
    assert summary(out)["images"] == "1"
    assert "in-process cache ends with this command" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sizes", "0"], "w must be an integer from 1 to 4096, got '0'"),
        (["--sizes", "100", "--formats", "tiff"], "format must be one of"),
        (["--sizes", "100", "--concurrency", "0"], "--concurrency must be 1 or more"),
        (["--sizes", "100", "--formats", "webp,auto"], "--formats auto is settled by a browser"),
    ],
)
def test_bad_options_exit_2(
    folder: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["warm", "", "--source", str(folder), "--cache", "none", *extra])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_prefix_with_no_images_says_so_and_fails(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["warm", "product/", "--sizes", "64", "--source", str(folder), "--cache", "none"], capsys
    )
    assert code == 1
    assert out == ""
    assert err == f"no images under 'product/' in {folder}: nothing to warm\n"


def test_the_progress_bar_counts_every_variant(folder: Path) -> None:
    import io

    from image_optimizer.cache.null import NullCache
    from image_optimizer.request import parse_query
    from image_optimizer.service import ImageService
    from image_optimizer.sources.folder import FolderSource
    from image_optimizer_cli.warm import warm

    service = ImageService(FolderSource(folder, 10**9), NullCache(), max_source_pixels=10**8)
    specs = [("w=50 webp", parse_query("w=50&format=webp", None, 4096))]
    bar = io.StringIO()
    report = warm(service, ["logos/badge.png", "photos/portrait.jpg"], specs, 1, bar)
    assert bar.getvalue().endswith("] 2/2\n")
    assert "warming [###############...............] 1/2" in bar.getvalue()
    assert (report.made, report.failures) == (2, [])


def test_a_cache_that_cannot_be_reached_fails_before_any_work(
    folder: Path, refused_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = f"redis://127.0.0.1:{refused_port}/0"
    args = ["warm", "", "--sizes", "64", "--source", str(folder), "--cache", cache]
    code, out, err = run(args, capsys)
    assert code == 1
    assert out == ""
    assert err == f"cannot reach the cache redis ({cache}): nothing warmed\n"


def test_a_cache_that_keeps_nothing_fails_the_command(
    folder: Path, own_redis: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Redis answers reads but is full (noeviction, OOM on every write): the variants made are
    not kept, which is what warming was for."""
    own_redis.client().config_set("maxmemory", "1")
    own_redis.client().config_set("maxmemory-policy", "noeviction")
    (folder / "m-broken" / "cut.jpg").unlink()
    args = ["warm", "landscapes/", "--sizes", "64", "--source", str(folder)]
    code, _, err = run([*args, "--cache", own_redis.url], capsys)
    assert code == 1
    assert err.endswith(
        f"the cache redis ({own_redis.url}) failed 1 times: the variants made since were not kept\n"
    )


def test_presets_are_warmed_as_urls_ask_for_them(
    folder: Path,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What warm makes under a preset is the entry ?preset=small later finds."""
    monkeypatch.setenv("PRESETS", "small:w=48 card:w=64&h=48")
    (folder / "m-broken" / "cut.jpg").unlink()
    args = ["warm", "landscapes/", "--presets", "all", "--formats", "webp,jpeg"]
    code, out, _ = run([*args, "--source", str(folder), "--cache", redis_url], capsys)
    assert code == 0
    assert (summary(out)["variants"], summary(out)["made"]) == ("4", "4")
    code, out, _ = run([*args[:2], "--presets", "small", "--source", str(folder), "--cache",
                        redis_url], capsys)  # fmt: skip
    assert summary(out)["cached"] == "1"
    with pytest.raises(SystemExit) as exited:
        main(["warm", "", "--source", str(folder), "--cache", "none", "--presets", "hero"])
    assert exited.value.code == 2
    assert "preset must be one of card, small, got 'hero'" in capsys.readouterr().err
