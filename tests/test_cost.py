"""The cost model's hit ratios against what happens: a simulation of the same caches for the
CloudFront tiers, and the real local stack (the local server and redis-server) for Redis, each
fed a generated trace; and its bill against sums done by hand."""

from __future__ import annotations

import math
import os
import random
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from image_optimizer_cli.cost import (
    EXAMPLES,
    SECONDS_PER_MONTH,
    Deployment,
    Traffic,
    estimate,
    lru_hit,
    popularity,
    ttl_hit,
)
from image_optimizer_cli.main import main
from local_server import start_server
from redis_server import RedisServer


def zipf_picker(objects: int, s: float, rng: random.Random) -> Iterator[int]:
    weights = [rank**-s for rank in range(1, objects + 1)]
    while True:
        yield from rng.choices(range(objects), weights=weights, k=1000)


@pytest.mark.parametrize("s", [0.7, 1.0, 1.2])
def test_grouped_popularity_gives_the_hit_ratio_of_every_object_counted(s: float) -> None:
    objects, rate, keep = 50_000, 3.0, 600.0
    exact_total = sum(rank**-s for rank in range(1, objects + 1))
    exact = sum(
        (rank**-s / exact_total) * lru_hit(rate * rank**-s / exact_total, keep)
        for rank in range(1, objects + 1)
    )
    grouped = popularity(objects, s)
    assert sum(count * share for count, share in grouped) == pytest.approx(1.0, abs=1e-9)
    assert len(grouped) <= 3000
    modelled = sum(count * share * lru_hit(rate * share, keep) for count, share in grouped)
    assert modelled == pytest.approx(exact, abs=0.003)


def simulate(objects: int, s: float, rate: float, requests: int, edges: int, keep: float,
             shield_keep: float, ttl: float) -> tuple[float, float, float]:  # fmt: skip
    """The tiers as the model describes them, request by request: an edge (one of ``edges``, at
    random) keeps an object while it is asked for within ``keep`` seconds, the shield within
    ``shield_keep``; Redis keeps what it stores for ``ttl`` seconds from the miss."""
    rng = random.Random(11)
    picks = zipf_picker(objects, s, rng)
    last_at_edge: dict[tuple[int, int], float] = {}
    last_at_shield: dict[int, float] = {}
    stored_until: dict[int, float] = {}
    clock = 0.0
    hits = [0, 0, 0]
    arrivals = [0, 0, 0]
    for _ in range(requests):
        clock += rng.expovariate(rate)
        item, edge = next(picks), rng.randrange(edges)
        arrivals[0] += 1
        previous = last_at_edge.get((edge, item))
        last_at_edge[(edge, item)] = clock
        if previous is not None and clock - previous <= keep:
            hits[0] += 1
            continue
        arrivals[1] += 1
        previous = last_at_shield.get(item)
        last_at_shield[item] = clock
        if previous is not None and clock - previous <= shield_keep:
            hits[1] += 1
            continue
        arrivals[2] += 1
        if stored_until.get(item, -1.0) >= clock:
            hits[2] += 1
        else:
            stored_until[item] = clock + ttl
    return hits[0] / arrivals[0], hits[1] / arrivals[1], hits[2] / arrivals[2]


def test_the_tiers_hit_as_a_simulation_of_the_same_caches_does() -> None:
    objects, rate, edges = 400, 4.0, 3
    keep, shield_keep, ttl = 30.0, 120.0, 600.0
    traffic = Traffic(requests=rate * SECONDS_PER_MONTH, originals=objects, variants=1, zipf=1.0)
    deployment = Deployment(
        edges=edges, edge_hours=keep / 3600, shield_hours=shield_keep / 3600, redis_ttl=ttl
    )
    modelled = [ratio for _, _, ratio in estimate(traffic, deployment).tiers]
    simulated = simulate(objects, 1.0, rate, 200_000, edges, keep, shield_keep, ttl)
    for model, seen in zip(modelled, simulated, strict=True):
        assert model == pytest.approx(seen, abs=0.03), (modelled, simulated)
    assert 0.2 < simulated[0] < 0.9  # each tier both hits and misses: the test can fail


def test_the_redis_tier_hits_as_the_real_local_stack_does(tmp_path: Path) -> None:
    """A Zipf trace replayed in real time through `image-optimizer serve` with redis-server
    (results kept 2 s), against the model's Redis hit ratio for the same rates."""
    folder = tmp_path / "images"
    folder.mkdir()
    originals, widths, ttl = 40, (8, 16, 24), 2
    for index in range(originals):
        Image.new("RGB", (32, 32), (index * 6, 100, 200)).save(folder / f"{index}.png")
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis").start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCE_", "REDIS_", "SIGN"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), REDIS_CACHE_EXPIRATION_SECONDS=str(ttl))
    process, base = start_server("--source", str(folder), "--cache", redis.url, env=env)
    try:
        urllib.request.urlopen(f"{base}/images/0.png?w=4").read()  # the server's first miss
        rng = random.Random(3)
        picks = zipf_picker(originals * len(widths), 1.0, rng)
        rate, duration, warm_up = 40.0, 20.0, 3.0
        started = time.monotonic()
        due, outcomes = 0.0, []
        while due < duration:
            due += rng.expovariate(rate)
            time.sleep(max(0.0, started + due - time.monotonic()))
            item = next(picks)
            url = f"{base}/images/{item // len(widths)}.png?w={widths[item % len(widths)]}"
            with urllib.request.urlopen(url) as response:
                response.read()
                outcomes.append((time.monotonic() - started, response.headers["X-Cache"]))
        elapsed = time.monotonic() - started
    finally:
        process.terminate()
        process.wait(timeout=10)
        redis.stop()
    counted = [cache for at, cache in outcomes if at > warm_up]
    seen = counted.count("hit") / len(counted)
    achieved = len(outcomes) / elapsed  # requests that were late make the rate lower
    total = sum(rank**-1.0 for rank in range(1, originals * len(widths) + 1))
    modelled = sum(
        (rank**-1.0 / total) * ttl_hit(achieved * rank**-1.0 / total, ttl)
        for rank in range(1, originals * len(widths) + 1)
    )
    assert seen == pytest.approx(modelled, abs=0.04), (seen, modelled, achieved)
    assert 0.2 < seen < 0.8


def test_the_bill_is_the_sum_of_its_lines_at_the_listed_prices() -> None:
    traffic = Traffic(requests=10_000_000, originals=1000, variants=2, zipf=1.0, result_kb=20)
    result = estimate(traffic, Deployment())
    assert result.bill["CloudFront requests"] == pytest.approx(10.0)  # $0.0100 per 10,000
    assert result.bill["CloudFront data out"] == pytest.approx(10e6 * 20 / 1024**2 * 0.085)
    assert result.bill["CloudFront Function"] == pytest.approx(1.0)
    edges, shield, redis = result.tiers
    assert shield[1] == pytest.approx(edges[1] * (1 - edges[2]))
    assert redis[1] == pytest.approx(shield[1] * (1 - shield[2]))
    assert result.invocations == pytest.approx(redis[1])
    assert result.transforms == pytest.approx(redis[1] * (1 - redis[2]))
    assert result.bill["Origin Shield"] == pytest.approx(shield[1] / 10_000 * 0.0075)
    assert result.bill["S3 GETs"] == pytest.approx(result.transforms / 1000 * 0.0004)


def test_without_origin_shield_the_function_sees_what_the_edges_miss() -> None:
    traffic = EXAMPLES["shop"]
    shielded = estimate(traffic, Deployment())
    bare = estimate(traffic, Deployment(origin_shield=False))
    assert [name for name, _, _ in bare.tiers] == ["CloudFront edges", "Redis"]
    assert bare.invocations == pytest.approx(bare.tiers[0][1] * (1 - bare.tiers[0][2]))
    assert bare.invocations > 2 * shielded.invocations
    assert "Origin Shield" not in bare.bill or bare.bill["Origin Shield"] == 0


def test_the_cost_command_prints_the_tiers_and_the_total(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["cost", "--site", "blog", "--requests", "1e6", "--no-shield"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1.0M requests a month over 2.0k originals x 3 variants")
    assert "Origin Shield" not in out.split("function:")[0]
    total = float(out.splitlines()[-1].split("$")[1].replace(",", ""))
    lines = [line for line in out.splitlines() if "$" in line][:-1]
    assert total == pytest.approx(
        sum(float(line.split("$")[1].replace(",", "")) for line in lines), abs=0.02
    )
    assert math.isfinite(total)
