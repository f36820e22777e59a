"""Benchmark: three ways to purge every variant of one original from Redis, side by side.

Run with `make bench` (pinned to one core) against a redis-server on loopback that this script
starts. Each design stores, serves and purges the same originals, each with VARIANTS variants of
VALUE_BYTES; the operations are interleaved across designs and each figure is a median.

- index (what cache/redis.py does): every key of an original shares a hash tag; a set lists the
  original's variants. Hit: GET. Store: one script (epoch check, SET, SADD, EXPIRE). Purge:
  INCR the epoch and read the set in one transaction, then DEL the variants and the set.
- generation: a per-original number is part of every variant's key; a purge bumps it and the
  old variants expire with their TTL. Hit: GET the number, then GET the image (two round trips;
  a script could do both, but would have to read a key it did not declare).
- hash: one Redis hash per original, a field per variant. Hit: HGET. Store: HSET and EXPIRE NX
  (the hash's TTL is set once, so all variants expire together). Purge: DEL.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from redis_server import RedisServer

VARIANTS = 50
VALUE_BYTES = 20_000  # a 400 px WebP
TTL = 3600
STORE = """
if (redis.call("get", KEYS[3]) or "") ~= ARGV[3] then return 0 end
redis.call("set", KEYS[1], ARGV[1], "EX", ARGV[2])
redis.call("sadd", KEYS[2], ARGV[4])
redis.call("expire", KEYS[2], ARGV[2])
return 1
"""


class Index:
    name = "index (ours)"

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.store_script = client.register_script(STORE)

    def store(self, original: str, variant: str, value: bytes) -> None:
        keys = [
            f"i:{{{original}}}:{variant}",
            f"i:{{{original}}}:variants",
            f"i:{{{original}}}:epoch",
        ]
        self.store_script(keys=keys, args=[value, TTL, "", variant])

    def hit(self, original: str, variant: str) -> bytes | None:
        value: bytes | None = self.client.get(f"i:{{{original}}}:{variant}")
        return value

    def purge(self, original: str) -> None:
        pipeline = self.client.pipeline(transaction=True)
        pipeline.incr(f"i:{{{original}}}:epoch")
        pipeline.expire(f"i:{{{original}}}:epoch", 86400)
        pipeline.smembers(f"i:{{{original}}}:variants")
        members = pipeline.execute()[-1]
        doomed = [f"i:{{{original}}}:{member.decode()}" for member in members]
        self.client.delete(*doomed, f"i:{{{original}}}:variants")


class Generation:
    name = "generation"

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def store(self, original: str, variant: str, value: bytes) -> None:
        generation = int(self.client.get(f"g:{{{original}}}:generation") or 0)
        self.client.set(f"g:{{{original}}}:{generation}:{variant}", value, ex=TTL)

    def hit(self, original: str, variant: str) -> bytes | None:
        generation = int(self.client.get(f"g:{{{original}}}:generation") or 0)
        value: bytes | None = self.client.get(f"g:{{{original}}}:{generation}:{variant}")
        return value

    def purge(self, original: str) -> None:
        self.client.incr(f"g:{{{original}}}:generation")


class Hash:
    name = "hash"

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def store(self, original: str, variant: str, value: bytes) -> None:
        pipeline = self.client.pipeline(transaction=False)
        pipeline.hset(f"h:{{{original}}}", variant, value)
        pipeline.expire(f"h:{{{original}}}", TTL, nx=True)
        pipeline.execute()

    def hit(self, original: str, variant: str) -> bytes | None:
        value: bytes | None = self.client.hget(f"h:{{{original}}}", variant)
        return value

    def purge(self, original: str) -> None:
        self.client.delete(f"h:{{{original}}}")


Design = Index | Generation | Hash


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1e6


def memory(client: redis.Redis) -> int:
    used: int = client.info("memory")["used_memory"]
    return used


def run(rounds: int) -> list[tuple[str, float, float, float, float, float]]:
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(Path(folder)).start()
        try:
            client = server.client()
            designs: list[Design] = [Index(client), Generation(client), Hash(client)]
            value = b"\xab" * VALUE_BYTES
            samples: dict[str, dict[str, list[float]]] = {
                d.name: {"store": [], "hit": [], "purge": [], "bytes": [], "left": []}
                for d in designs
            }
            for round_number in range(rounds):
                order = designs[round_number % 3 :] + designs[: round_number % 3]
                for design in order:
                    original = f"o{round_number}"
                    before = memory(client)
                    for variant in range(VARIANTS):
                        samples[design.name]["store"].append(
                            timed(partial(design.store, original, f"v{variant}", value))
                        )
                    stored = memory(client)
                    for variant in range(VARIANTS):
                        samples[design.name]["hit"].append(
                            timed(partial(design.hit, original, f"v{variant}"))
                        )
                    samples[design.name]["purge"].append(timed(partial(design.purge, original)))
                    samples[design.name]["bytes"].append((stored - before) / VARIANTS)
                    samples[design.name]["left"].append(memory(client) - before)
            return [
                (
                    name,
                    statistics.median(values["hit"]),
                    statistics.median(values["store"]),
                    statistics.median(values["purge"]),
                    statistics.median(values["bytes"]) - VALUE_BYTES,
                    statistics.median(values["left"]) / 1024,
                )
                for name, values in samples.items()
            ]
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    print(
        f"purge designs: {VARIANTS} variants of {VALUE_BYTES} bytes per original, "
        f"median of {args.rounds} originals, redis-server on loopback"
    )
    print(
        f"{'design':<14}{'hit us':>9}{'store us':>10}{'purge us':>10}"
        f"{'overhead B/variant':>20}{'left after purge KB':>21}"
    )
    for name, hit, store, purge, overhead, left in run(args.rounds):
        print(f"{name:<14}{hit:>9.1f}{store:>10.1f}{purge:>10.1f}{overhead:>20.0f}{left:>21.1f}")


if __name__ == "__main__":
    main()
