"""Benchmark: the first request of a new process, ours beside Node 20 + sharp + the AWS SDK v3.

Run with `make bench` (pinned to one core). Each round starts fresh processes, interleaved and
rotated, and times from just before the process is spawned to the response being made:

- (a) a first miss from S3 (moto's server on loopback), no Redis: a 400 px WebP;
- (b) a first hit from Redis (the same image, stored by an earlier process), ours only: the
  goal compares it with the peer's first miss;
- (c) a first request from a local folder;
- and, for information, (a) with Redis in front (a miss there too), as a deployment meets it.

Ours runs as `sam build` packages it: the function and the dependencies layer built by their
own Makefiles (bytecode compiled) for this machine's architecture, boto3 beside them as the
Lambda runtime has it, and an interpreter without site-packages. The peer is node/first_request.js
with the versions node/package-lock.json pins. Each process reports when it started and its
phases; the table prints medians: interpreter start, the imports before the first request
(Lambda's init), the fetch (building the client included), the transform, and the rest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
BUILD = ROOT / "build" / "cold-start"
NODE = HERE / "node"
BUCKET, KEY, WIDTH = "cold-start", "landscapes/main.jpg", 400
# Ours / the peer's first miss: the performance issue's goals for (a) and (b).
GOALS = {"(a) miss from S3 | ours": 0.70, "(b) hit from Redis | ours": 0.65}

sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "functions"))

# The driver each fresh Python process runs: the packaged code only, the handler imported (init)
# and called once with a Function URL event, its phases read from its own Server-Timing.
PYTHON_DRIVER = """
import time
started = time.time() * 1000
import sys
sys.path[:0] = sys.argv[1].split(":")
before = time.time() * 1000
import image_optimizer.app as app
imported = time.time() * 1000
import json  # after the handler, which imports it anyway
event = json.loads(sys.argv[2])

class Context:
    function_name, function_version, memory_limit_in_mb = "cold-start", "$LATEST", 1769
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:cold-start"
    aws_request_id, log_group_name, log_stream_name = "cold-start", "/aws/lambda/cold-start", "x"
    def get_remaining_time_in_millis(self):
        return 15000

response = app.lambda_handler(event, Context())
done = time.time() * 1000
assert response["statusCode"] == 200, response
stages = {}
for part in response["headers"]["Server-Timing"].split(","):
    name, _, duration = part.strip().partition(";dur=")
    stages[name] = float(duration)
print(json.dumps({"started": started, "imports": imported - before, "done": done,
                  "cache": response["headers"].get("X-Cache"), "stages": stages}))
"""


@dataclass(frozen=True)
class Phases:
    interpreter: float
    imports: float
    fetch: float
    transform: float
    rest: float
    total: float


def package() -> str:
    """The function, the layer and the runtime's boto3, built once per change of their inputs;
    returns them as a path list."""
    arch = platform.machine()
    inputs = hashlib.sha256()
    for path in sorted((ROOT / "functions" / "image_optimizer").rglob("*.py")):
        inputs.update(path.read_bytes())
    for path in (ROOT / "layers" / "requirements.txt", ROOT / "layers" / "Makefile"):
        inputs.update(path.read_bytes())
    stamp = BUILD / "inputs.sha256"
    parts = [BUILD / "function", BUILD / "layer" / "python", BUILD / "runtime"]
    if stamp.exists() and stamp.read_text() == inputs.hexdigest():
        return ":".join(map(str, parts))
    shutil.rmtree(BUILD, ignore_errors=True)
    make = ["make", "--no-print-directory", "-s", f"PYTHON={sys.executable}"]
    (BUILD / "function").mkdir(parents=True)
    for folder, target, artifacts, *more in (
        ("functions", "build-ImageOptimizerFunction", "function"),
        ("layers", "build-DependenciesLayer", "layer", f"LAYER_ARCH={arch}"),
    ):
        command = [*make, "-C", str(ROOT / folder), target, f"ARTIFACTS_DIR={BUILD / artifacts}"]
        subprocess.run([*command, *more], check=True)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--target", str(BUILD / "runtime"), "boto3"], check=True)
    compile_all = [sys.executable, "-m", "compileall", "-q", "--invalidation-mode"]
    subprocess.run([*compile_all, "unchecked-hash", str(BUILD / "runtime")], check=True)
    stamp.write_text(inputs.hexdigest())
    return ":".join(map(str, parts))


def node_ready() -> None:
    if not (NODE / "node_modules" / "sharp").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=NODE, check=True)


def run_ours(paths: str, event: dict[str, object], env: dict[str, str]) -> tuple[Phases, str]:
    spawned = time.time() * 1000
    result = subprocess.run(
        [sys.executable, "-S", "-c", PYTHON_DRIVER, paths, json.dumps(event)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    report = json.loads(result.stdout.strip().splitlines()[-1])
    stages = report["stages"]
    transform = sum(stages.get(name, 0.0) for name in ("decode", "resize", "colour", "encode"))
    total = report["done"] - spawned
    interpreter = report["started"] - spawned
    fetch = stages.get("fetch", 0.0)
    rest = total - interpreter - report["imports"] - fetch - transform
    return Phases(interpreter, report["imports"], fetch, transform, rest, total), report["cache"]


def run_node(source: str, where: str, env: dict[str, str]) -> Phases:
    spawned = time.time() * 1000
    result = subprocess.run(
        ["node", str(NODE / "first_request.js"), source, where, KEY, str(WIDTH)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    report = json.loads(result.stdout.strip().splitlines()[-1])
    total = report["done"] - spawned
    interpreter = report["started"] - spawned
    fetch = report["clients"] + report["fetch"]
    rest = total - interpreter - report["imports"] - fetch - report["transform"]
    return Phases(interpreter, report["imports"], fetch, report["transform"], rest, total)


def event_for(query: str) -> dict[str, object]:
    event: dict[str, object] = json.loads((ROOT / "events" / "function-url-get.json").read_text())
    event["rawPath"] = f"/images/{KEY}"
    event["rawQueryString"] = query
    event["requestContext"]["http"]["path"] = f"/images/{KEY}"  # type: ignore[index]
    return event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    rounds = parser.parse_args().rounds

    import boto3
    from moto.server import ThreadedMotoServer

    from image_optimizer_cli.samples import ensure_samples
    from redis_server import RedisServer

    paths = package()
    node_ready()
    samples = ensure_samples(BUILD / "samples")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    (BUILD / "redis").mkdir(exist_ok=True)
    redis = RedisServer(BUILD / "redis").start()
    try:
        aws = {
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": f"http://{host}:{port}",
        }  # fmt: skip
        base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **aws}
        s3 = boto3.client("s3", endpoint_url=aws["AWS_ENDPOINT_URL_S3"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(samples / KEY), BUCKET, KEY)
        # As deployed: a results store named (used only for results too large to send).
        from_s3 = {**base, "SOURCE_BUCKET": BUCKET, "RESULTS_BUCKET": "cold-start-results"}
        from_folder = {**base, "SOURCE_DIR": str(samples)}
        with_redis = {**from_s3, "REDIS_URL": redis.url}
        query = f"w={WIDTH}&format=webp&q=80"
        event = event_for(query)
        run_ours(paths, event, with_redis)  # stores the image for (b)

        def miss_with_redis() -> tuple[Phases, str]:
            redis.client().flushall()
            return run_ours(paths, event, with_redis)

        cases: dict[str, Callable[[], Phases]] = {
            "(a) miss from S3 | ours": lambda: checked(run_ours(paths, event, from_s3), "miss"),
            "(a) miss from S3 | node+sharp": lambda: run_node("s3", BUCKET, from_s3),
            "(b) hit from Redis | ours": lambda: checked(run_ours(paths, event, with_redis), "hit"),
            "(c) local folder | ours": lambda: checked(run_ours(paths, event, from_folder), "miss"),
            "(c) local folder | node+sharp": lambda: run_node("folder", str(samples), from_folder),
            "(a+) miss, Redis in front | ours": lambda: checked(miss_with_redis(), "miss"),
        }
        samples_by_case: dict[str, list[Phases]] = {name: [] for name in cases}
        names = list(cases)
        for round_number in range(rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                samples_by_case[name].append(cases[name]())
        print_table(samples_by_case, rounds)
    finally:
        redis.stop()
        moto.stop()


def checked(outcome: tuple[Phases, str], expected: str) -> Phases:
    phases, cache = outcome
    assert cache == expected, f"expected a {expected}, got {cache}"
    return phases


def median(phases: list[Phases]) -> Phases:
    return Phases(*(statistics.median(getattr(p, field) for p in phases)
                    for field in Phases.__dataclass_fields__))  # fmt: skip


def print_table(samples: dict[str, list[Phases]], rounds: int) -> None:
    print(f"cold start: fresh process -> first {WIDTH} px WebP, median of {rounds}, one core "
          f"(ms; Python {platform.python_version()}, node {node_version()})")  # fmt: skip
    print(f"{'case':<34}{'stack':<12}{'interp':>8}{'imports':>9}{'fetch':>8}{'transform':>11}"
          f"{'rest':>8}{'total':>8}{'/ node miss':>13}")  # fmt: skip
    medians = {name: median(values) for name, values in samples.items()}
    peer = medians["(a) miss from S3 | node+sharp"].total
    for name, m in medians.items():
        case, stack = name.split(" | ")
        print(
            f"{case:<34}{stack:<12}{m.interpreter:>8.1f}{m.imports:>9.1f}{m.fetch:>8.1f}"
            f"{m.transform:>11.1f}{m.rest:>8.1f}{m.total:>8.1f}{m.total / peer:>13.2f}"
        )
    for case, goal in GOALS.items():
        ratio = medians[case].total / peer
        verdict = "meets" if ratio <= goal else "misses"
        print(f"{case.split(' | ')[0]}: ours {ratio:.2f}x the peer's first miss, {verdict} "
              f"the goal of {goal}x")  # fmt: skip


def node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
