"""A bounded load test of `image-optimizer serve` on loopback: mixed traffic, no surprises.

Sixteen clients send hits, misses and bad requests at once, in three equal rounds. Every
answer must be the one its request deserves, and the server's memory after the third round must
be about what it was after the second (the cache is bounded; nothing else may grow; the first
round lets the allocator's arenas fill), and stay well under what unbounded arenas would take.
The summary goes to test-artifacts/load-summary.txt.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ROOT
from local_server import fetch, start_server

CLIENTS = 16
REQUESTS_PER_ROUND = 480
GROWTH_LIMIT_BYTES = 48 * 1024 * 1024
# With the server's malloc arenas bounded it stays near 100 MB; unbounded, glibc's per-thread
# arenas took it past 300 MB.
RESIDENT_LIMIT_BYTES = 160 * 1024 * 1024

HITS = [
    ("/images/landscapes/main.jpg?w=400&format=webp", 200),
    ("/images/logos/badge.png?w=128", 200),
    ("/images/photos/portrait.jpg?w=300&h=300", 200),
]
BAD = [
    ("/images/landscapes/main.jpg?w=abc", 400),
    ("/images/landscapes/main.jpg?width=3", 400),
    ("/images/nothing/here.jpg?w=100", 404),
    ("/images/../etc/passwd", 400),
    ("/nowhere", 404),
]


def traffic(rng: random.Random, count: int) -> list[tuple[str, int]]:
    requests = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.5:
            requests.append(rng.choice(HITS))
        elif roll < 0.8:  # a miss: a width nobody asked for yet (mostly)
            width, fmt = rng.randint(16, 900), rng.choice(["webp", "jpeg", "png", "avif"])
            requests.append((f"/images/landscapes/main.jpg?w={width}&format={fmt}", 200))
        else:
            requests.append(rng.choice(BAD))
    return requests


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def run_round(base: str, requests: list[tuple[str, int]]) -> tuple[Counter[str], list[float]]:
    def one(request: tuple[str, int]) -> tuple[str, float]:
        target, expected = request
        started = time.perf_counter()
        status, headers, body = fetch(base + target)
        elapsed = (time.perf_counter() - started) * 1000
        if status != expected:
            return f"unexpected {status} for {target}: {body[:200]!r}", elapsed
        return f"{status} {headers.get('x-cache', '-')}", elapsed

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(one, requests))
    return Counter(outcome for outcome, _ in results), [ms for _, ms in results]


@pytest.mark.slow
def test_mixed_load_on_the_local_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCE_", "REDIS_", "MAX_"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), MEMORY_CACHE_BYTES=str(8 * 1024 * 1024))
    process, base = start_server(env=env)
    rng = random.Random(2026)
    try:
        started = time.monotonic()
        warm_up, _ = run_round(base, traffic(rng, REQUESTS_PER_ROUND))
        first, _ = run_round(base, traffic(rng, REQUESTS_PER_ROUND))
        after_first = resident_bytes(process.pid)
        second, latencies = run_round(base, traffic(rng, REQUESTS_PER_ROUND))
        after_second = resident_bytes(process.pid)
        seconds = time.monotonic() - started
    finally:
        process.terminate()
        process.wait(timeout=10)
    outcomes = warm_up + first + second
    unexpected = [outcome for outcome in outcomes if outcome.startswith("unexpected")]
    assert not unexpected, unexpected[:5]
    assert outcomes["200 hit"] > 0
    assert outcomes["200 miss"] > 0
    growth = after_second - after_first
    summary = (
        f"{3 * REQUESTS_PER_ROUND} requests from {CLIENTS} clients in {seconds:.1f} s "
        f"({3 * REQUESTS_PER_ROUND / seconds:.0f}/s): {dict(sorted(outcomes.items()))}; "
        f"last round latency p50 {statistics.median(latencies):.1f} ms, "
        f"p95 {statistics.quantiles(latencies, n=20)[-1]:.1f} ms; "
        f"server RSS {after_first / 2**20:.0f} MB after round 2, "
        f"{after_second / 2**20:.0f} MB after round 3"
    )
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "load-summary.txt").write_text(summary + "\n")
    print(summary)
    assert growth < GROWTH_LIMIT_BYTES, summary
    assert after_second < RESIDENT_LIMIT_BYTES, summary
