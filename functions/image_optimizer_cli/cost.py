"""What a deployment does and costs for a month of traffic: its cache tiers modelled, then priced.

The traffic: ``requests`` a month over ``originals`` x ``variants`` distinct URLs, whose
popularity follows Zipf's law with exponent ``zipf`` (the i-th most asked-for URL gets a share
proportional to 1/i^s). Requests arrive at random (Poisson) at those rates. Each tier sees what
the one before it missed:

- CloudFront's edge locations: ``edges`` of them share the traffic; each keeps an object while
  it is asked for at least once every ``edge_hours`` (CloudFront evicts what is not asked for;
  AWS publishes no figure, so this is an assumption to vary). An object with rate r is then a
  hit with probability 1 - exp(-r T) at each (the characteristic-time model of an LRU cache).
- Origin Shield, when on: one more such cache, keeping objects ``shield_hours``.
- Redis: each result is stored for ``redis_ttl`` seconds from the miss that made it (hits do
  not extend it). With nothing in front, an object with rate r is a hit with probability
  rT / (1 + rT), which is also the share of the month it is stored. Behind a cache that keeps
  an object K seconds after it was last asked for (Origin Shield), two requests for it reach
  Redis at least K apart: modelled as K plus an exponential wait with the same mean rate, so
  with the default K (72 h) longer than the TTL (1 h), Redis serves no hits at all, and is
  there for the moments the tiers in front do not hold an object: several containers making
  the same variant at once, a purge, the first minutes of a deployment.
- What Redis misses is fetched from S3 and made by the function.

The hit ratios are checked against the real local stack (the local server and redis-server,
replaying a generated trace) and against a simulation of the edge tier, in the tests. Prices
are us-east-1 list prices for the template's resources (arm64 Lambda, ElastiCache Serverless for
Valkey, CloudFront in North America and Europe); the function's times are the benchmarks'.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

SECONDS_PER_MONTH = 30 * 86400

# Prices (USD), us-east-1, as listed when this was written.
CLOUDFRONT_PER_10K_HTTPS = 0.0100
CLOUDFRONT_PER_GB_OUT = 0.085  # the first 10 TB a month
CLOUDFRONT_FUNCTION_PER_MILLION = 0.10
ORIGIN_SHIELD_PER_10K = 0.0075
LAMBDA_PER_GB_SECOND = 0.0000133334  # arm64
LAMBDA_PER_MILLION = 0.20
VALKEY_PER_GB_HOUR = 0.084  # ElastiCache Serverless for Valkey, at least 0.1 GB billed
VALKEY_MINIMUM_GB = 0.1
VALKEY_PER_MILLION_ECPU = 0.0023  # a request moving n KB costs n ECPUs (at least 1)
S3_PER_1K_GET = 0.0004
LOGS_PER_GB = 0.50  # CloudWatch Logs ingestion
INTERFACE_ENDPOINT_PER_HOUR = 0.01  # per AZ: the purge function's SQS endpoint, two AZs
FIXED_MONTHLY = 2 * INTERFACE_ENDPOINT_PER_HOUR * 730 + 3.00 + 5 * 0.10  # + dashboard, alarms

# The function, measured by the benchmarks (docs/performance.md).
FUNCTION_MEMORY_MB = 1769
HIT_MS = 2.0  # a hit from Redis: ~0.8 ms of handler and a round trip, billed by the ms
MISS_MS = 119.0  # the pipeline benchmark's mean job (a miss also fetches and stores)
LOG_RECORD_BYTES = 900  # the request's JSON line with its metrics


@dataclass(frozen=True, slots=True)
class Traffic:
    requests: float  # a month
    originals: int
    variants: int  # distinct URLs asked for per original (sizes x formats)
    zipf: float = 1.0
    result_kb: float = 25.0  # the mean answer
    peak_to_mean: float = 3.0  # the busiest minute's rate over the month's mean


@dataclass(frozen=True, slots=True)
class Deployment:
    edges: int = 15  # edge locations the audience is spread over
    edge_hours: float = 24.0
    origin_shield: bool = True
    shield_hours: float = 72.0
    redis_ttl: float = 3600.0  # REDIS_CACHE_EXPIRATION_SECONDS
    reserved_concurrency: int = 25


@dataclass(frozen=True, slots=True)
class Estimate:
    tiers: list[tuple[str, float, float]]  # name, requests reaching it a month, its hit ratio
    invocations: float
    transforms: float
    peak_concurrency: float
    redis_gb: float
    bill: dict[str, float]  # USD a month, by service


def popularity(objects: int, zipf: float, buckets: int = 3000) -> list[tuple[float, float]]:
    """Zipf's shares as (how many objects, the share of each), grouped by rank into at most
    ``buckets`` geometric groups, so that ten million objects cost what three thousand do."""
    edges = sorted(
        {1, objects + 1, *(round((objects + 1) ** (k / buckets)) for k in range(buckets))}
    )
    groups = [(low, high) for low, high in itertools.pairwise(edges) if high > low]
    weights = [(high - low, _mean_power(low, high, zipf)) for low, high in groups]
    total = sum(count * weight for count, weight in weights)
    return [(count, weight / total) for count, weight in weights]


def _mean_power(low: int, high: int, s: float) -> float:
    """The mean of i^-s over the ranks low..high-1 (exact when few, else by its integral)."""
    if high - low <= 64:
        return sum(rank**-s for rank in range(low, high)) / (high - low)
    a, b = low - 0.5, high - 0.5
    integral = math.log(b / a) if s == 1 else (b ** (1 - s) - a ** (1 - s)) / (1 - s)
    return integral / (high - low)


def lru_hit(rate_per_second: float, keep_seconds: float) -> float:
    return 1.0 - math.exp(-rate_per_second * keep_seconds)


def ttl_hit(rate_per_second: float, ttl_seconds: float, spacing: float = 0.0) -> float:
    """The hit ratio of a cache that keeps each object ``ttl_seconds`` from the miss that
    stored it, for requests at ``rate_per_second`` at least ``spacing`` seconds apart (each gap
    ``spacing`` plus an exponential wait: Poisson when 0). Per stored copy there is one miss and
    m hits, m the expected requests within the TTL, so the ratio is m / (1 + m)."""
    if rate_per_second <= 0:
        return 0.0
    mean_gap = 1.0 / rate_per_second
    if spacing < 1e-3 * mean_gap:  # too small to matter
        within = ttl_seconds / mean_gap
    else:
        wait_rate = 1.0 / (mean_gap - spacing)
        within = 0.0
        for n in range(1, int(ttl_seconds // spacing) + 1):
            # the n-th request comes n spacings plus n exponential waits (Erlang) after the miss
            chance = _erlang_cdf(n, wait_rate * (ttl_seconds - n * spacing))
            within += chance
            if chance < 1e-9:  # later requests are only less likely
                break
    return within / (1.0 + within)


def _erlang_cdf(n: int, x: float) -> float:
    """P(a sum of n unit-rate exponential waits <= x): the regularised lower incomplete gamma."""
    if x <= 0:
        return 0.0
    if x < n + 1:  # its series
        term = total = 1.0 / n
        for k in range(1, 500):
            term *= x / (n + k)
            total += term
            if term < total * 1e-12:
                break
        return min(1.0, total * math.exp(-x + n * math.log(x) - math.lgamma(n)))
    # else one minus its continued fraction (Lentz), as Numerical Recipes' gammq
    b, c, d = x + 1.0 - n, 1e300, 1.0 / (x + 1.0 - n)
    fraction = d
    for i in range(1, 500):
        a = -i * (i - n)
        b += 2.0
        d = 1.0 / (a * d + b)
        c = b + a / c
        step = c * d
        fraction *= step
        if abs(step - 1.0) < 1e-12:
            break
    return max(0.0, 1.0 - math.exp(-x + n * math.log(x) - math.lgamma(n)) * fraction)


def estimate(traffic: Traffic, deployment: Deployment = Deployment()) -> Estimate:
    rate = traffic.requests / SECONDS_PER_MONTH
    groups = popularity(traffic.originals * traffic.variants, traffic.zipf)
    tiers: list[tuple[str, float, float]] = []
    # Per group, the rate reaching the tier below: start with all requests.
    flows = [(count, share * rate) for count, share in groups]

    def through(name: str, hit: float | None, keep: float, spread: int = 1) -> None:
        nonlocal flows
        arriving = sum(count * r for count, r in flows) * SECONDS_PER_MONTH
        passed = []
        hits = 0.0
        for count, r in flows:
            h = hit if hit is not None else lru_hit(r / spread, keep)
            hits += count * r * h
            passed.append((count, r * (1 - h)))
        tiers.append((name, arriving, hits * SECONDS_PER_MONTH / arriving if arriving else 0.0))
        flows = passed

    through("CloudFront edges", None, deployment.edge_hours * 3600, deployment.edges)
    if deployment.origin_shield:
        through("Origin Shield", None, deployment.shield_hours * 3600)
    invocations = sum(count * r for count, r in flows) * SECONDS_PER_MONTH
    # Behind Origin Shield, one cache spaces each object's requests to Redis; behind the edges
    # alone, several do, and their misses interleave: taken as unspaced.
    spacing = deployment.shield_hours * 3600 if deployment.origin_shield else 0.0
    ratios = [(count, r, ttl_hit(r, deployment.redis_ttl, spacing)) for count, r in flows]
    redis_hits = sum(count * r * h for count, r, h in ratios)
    # The share of the month a copy is stored: a miss stores it for the TTL, once a cycle.
    stored = sum(count * min(1.0, r * (1 - h) * deployment.redis_ttl) for count, r, h in ratios)
    redis_ratio = redis_hits * SECONDS_PER_MONTH / invocations if invocations else 0.0
    tiers.append(("Redis", invocations, redis_ratio))
    transforms = invocations * (1 - redis_ratio)
    redis_gb = stored * traffic.result_kb / 1024**2
    peak_rate = invocations / SECONDS_PER_MONTH * traffic.peak_to_mean
    mean_ms = (
        (invocations - transforms) * HIT_MS + transforms * MISS_MS
    ) / invocations if invocations else 0.0  # fmt: skip
    shield_requests = tiers[1][1] if deployment.origin_shield else 0.0
    # A hit reads the result; a miss reads nothing, claims, stores the result and releases.
    moved = max(1.0, traffic.result_kb)
    ecpus = (invocations - transforms) * moved + transforms * (moved + 3)
    gb_seconds = FUNCTION_MEMORY_MB / 1024 * (invocations * mean_ms / 1000)
    gb_out = traffic.requests * traffic.result_kb / 1024**2
    bill = {
        "CloudFront requests": traffic.requests / 10_000 * CLOUDFRONT_PER_10K_HTTPS,
        "CloudFront data out": gb_out * CLOUDFRONT_PER_GB_OUT,
        "CloudFront Function": traffic.requests / 1e6 * CLOUDFRONT_FUNCTION_PER_MILLION,
        "Origin Shield": shield_requests / 10_000 * ORIGIN_SHIELD_PER_10K,
        "Lambda": invocations / 1e6 * LAMBDA_PER_MILLION + gb_seconds * LAMBDA_PER_GB_SECOND,
        "Redis storage": max(redis_gb, VALKEY_MINIMUM_GB) * VALKEY_PER_GB_HOUR * 730,
        "Redis ECPUs": ecpus / 1e6 * VALKEY_PER_MILLION_ECPU,
        "S3 GETs": transforms / 1000 * S3_PER_1K_GET,
        "CloudWatch Logs": invocations * LOG_RECORD_BYTES / 1024**3 * LOGS_PER_GB,
        "fixed (SQS endpoint, dashboard, alarms)": FIXED_MONTHLY,
    }  # fmt: skip
    return Estimate(tiers, invocations, transforms, peak_rate * mean_ms / 1000, redis_gb, bill)


EXAMPLES = {
    "blog": Traffic(requests=200_000, originals=2_000, variants=3, zipf=0.8, result_kb=40),
    "shop": Traffic(requests=30_000_000, originals=300_000, variants=6, zipf=1.0, result_kb=25),
    "media": Traffic(requests=500_000_000, originals=10_000_000, variants=4, zipf=0.9),
}


def report(traffic: Traffic, deployment: Deployment, result: Estimate) -> Iterator[str]:
    yield (
        f"{_count(traffic.requests)} requests a month over {_count(traffic.originals)} originals "
        f"x {traffic.variants} variants, Zipf {traffic.zipf:g}, {traffic.result_kb:g} KB a result"
    )
    for name, arriving, ratio in result.tiers:
        yield f"  {name:<22}{_count(arriving):>10} requests  hit ratio {ratio:6.1%}"
    yield (
        f"  function: {_count(result.invocations)} invocations, {_count(result.transforms)} "
        f"transforms; peak concurrency {result.peak_concurrency:.1f} "
        f"(reserved: {deployment.reserved_concurrency}); Redis holds {result.redis_gb:.2f} GB"
    )
    for service, usd in result.bill.items():
        yield f"  {service:<42}${usd:>10,.2f}"
    yield f"  {'total a month':<42}${sum(result.bill.values()):>10,.2f}"


def _count(value: float) -> str:
    for limit, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.1f}{unit}"
    return f"{value:.0f}"
