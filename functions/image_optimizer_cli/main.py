"""The `image-optimizer` command: `serve` the handler locally, `invoke` it on an event file,
`warm` and `purge` a cache, `sign` a URL, `check` a deployment's promises.

Configuration reaches the handler the way it does on Lambda, through environment variables
(SOURCE_DIR, SOURCE_BUCKET, SOURCE_PREFIX, REDIS_URL, MEMORY_CACHE_BYTES, ...): the options below
only set them, so what runs here is configured exactly as a deployed function is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from image_optimizer import __version__
from image_optimizer.errors import OptimizerError
from image_optimizer.parameters import PARAMETERS, PRESET, Kind
from image_optimizer.settings import (
    ConfigurationError,
    parameter_limits,
    read_presets,
    signing_secret,
)
from image_optimizer_cli.cost import EXAMPLES
from image_optimizer_cli.lambda_events import (
    IMAGE_FUNCTION,
    LocalContext,
    function_for,
    response_body,
)
from image_optimizer_cli.readable import ReadableStream
from image_optimizer_cli.samples import SAMPLE_WATERMARKS, SAMPLES, ensure_samples

if TYPE_CHECKING:
    from image_optimizer.cache import Cache
    from image_optimizer.service import ImageService

DEFAULT_MEMORY_CACHE_BYTES = 256 * 1024 * 1024
_SOURCE_VARIABLES = ("SOURCE_DIR", "SOURCE_BUCKET", "SOURCE_PREFIX")
EXIT_FAILED = 1  # the command ran and something it did failed
EXIT_USAGE = 2  # the command could not run as asked


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except UsageError as error:
        parser.exit(EXIT_USAGE, f"image-optimizer: error: {error}\n")
    except KeyboardInterrupt:
        return 130
    return result


class UsageError(Exception):
    """A problem with what the user asked for; reported in one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="image-optimizer",
        description="Run the image optimizer's Lambda handler on this machine.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve HTTP locally, each request handled by the real handler",
        description="Serve HTTP locally: each request becomes a Function URL event for the "
        "real handler. With no --source and no SOURCE_DIR/SOURCE_BUCKET in the environment, "
        "it serves generated sample images.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=3000, help="port (default: %(default)s)")
    _add_source_and_cache(serve)
    serve.set_defaults(run=_serve)

    invoke = commands.add_parser(
        "invoke",
        help="run a function once on an event file and print its response",
        description="Run the function the event belongs to (the image handler for an HTTP "
        "request, the purge or invalidation function for their SQS batches) once on it, as "
        "`sam local invoke -e` does, and print the response as JSON. Logs go to standard error; "
        "exit 1 when the function answers 5xx or hands messages back to SQS.",
    )
    invoke.add_argument("event", type=Path, help="a JSON event, such as events/*.json")
    invoke.add_argument(
        "--body-out", type=Path, metavar="FILE", help="also write the decoded body to FILE"
    )
    invoke.set_defaults(run=_invoke)

    warm = commands.add_parser(
        "warm",
        help="make image variants ahead of time, into the configured cache",
        description="Make every variant (each size or preset, in each format) of every image "
        "under PREFIX through the real service, so that it lands in the cache: use --cache "
        "redis://... (or REDIS_URL) to fill a deployment's cache. Exits 1 when any variant failed.",
    )
    warm.add_argument("prefix", metavar="PREFIX", help="key prefix, such as products/ ('' for all)")
    warm.add_argument("--sizes", metavar="W,W,...", help="widths to make, such as 320,640,1280")
    warm.add_argument(
        "--presets", metavar="NAME,...", help="presets to make (PRESETS'), or 'all' of them"
    )
    warm.add_argument(
        "--formats", default="webp", metavar="F,F,...", help="formats (default: %(default)s)"
    )
    _add_source_and_cache(warm)
    warm.add_argument(
        "--concurrency", type=int, default=4, metavar="N", help="variants at once (default: 4)"
    )
    warm.set_defaults(run=_warm)

    purge = commands.add_parser(
        "purge",
        help="remove every variant of originals from the cache, and from CloudFront",
        description="Remove every variant of each original named (KEY, or every original "
        "under --prefix in the source) from the shared cache (--cache redis://... or REDIS_URL), "
        "and with --distribution ask CloudFront to forget their URLs. A deployment does this by "
        "itself when its bucket sends events; this is for the rest.",
    )
    purge.add_argument("keys", nargs="*", metavar="KEY", help="an image key, such as a/b.jpg")
    purge.add_argument(
        "--prefix",
        action="append",
        default=[],
        metavar="PREFIX",
        help="every original under PREFIX in the source (repeatable)",
    )
    _add_source_and_cache(purge)
    purge.add_argument(
        "--distribution", metavar="ID", help="a CloudFront distribution: invalidate its URLs too"
    )
    purge.set_defaults(run=_purge)

    sign = commands.add_parser(
        "sign",
        help="sign an image URL for a deployment that requires signed URLs",
        description="Print URL with its signature (s) added, and expires when asked. The "
        "secret is read from the SIGNING_SECRET environment variable or --secret-file, never "
        "from the command line, which shells keep in their history.",
    )
    sign.add_argument("url", help="/images/<key>?w=... or a full https:// URL")
    sign.add_argument(
        "--expires-in", type=int, metavar="SECONDS", help="make the URL stop working after this"
    )
    sign.add_argument("--secret-file", type=Path, metavar="FILE", help="read the secret from FILE")
    sign.set_defaults(run=_sign)

    check = commands.add_parser(
        "check",
        help="try the README's promises on a running deployment (or the local server)",
        description="Ask URL for an image, a cache hit, format=auto, a bad parameter, a missing "
        "image, a 304, and (given the secret) signed and unsigned URLs, and the Function URL "
        "directly; print a row per promise and exit 1 if one is broken. Nothing is written.",
    )
    check.add_argument("url", help="the CloudFront URL (or http://127.0.0.1:3000)")
    check.add_argument("--key", required=True, help="an image that exists, e.g. photos/a.jpg")
    asked = check.add_mutually_exclusive_group()
    asked.add_argument("--width", type=int, default=160, help="a width the deployment allows")
    asked.add_argument(
        "--preset", metavar="NAME", help="ask for a preset instead (UNSIGNED_URLS=presets)"
    )
    check.add_argument(
        "--function-url", metavar="URL", help="the stack's FunctionUrl output: must refuse"
    )
    check.add_argument("--secret-file", type=Path, metavar="FILE", help="the signing secret")
    check.set_defaults(run=_check)

    cost = commands.add_parser(
        "cost",
        help="model a month of traffic: each cache tier's hit ratio and the bill per service",
        description="Estimate CloudFront, Origin Shield and Redis hit ratios, invocations, peak "
        "concurrency and the monthly bill for some traffic. Start from --site and change what "
        "differs; the model and its assumptions are described in cost.py and the README.",
    )
    cost.add_argument("--site", choices=sorted(EXAMPLES), default="shop", help="a starting point")
    for name, kind, what in (
        ("--requests", float, "image requests a month"),
        ("--originals", int, "distinct original images asked for"),
        ("--variants", int, "distinct URLs per original (sizes x formats)"),
        ("--zipf", float, "popularity skew: 0.6 flat ... 1.2 a few images get most requests"),
        ("--kb", float, "the mean result, in KB"),
        ("--edges", int, "CloudFront edge locations the audience is spread over"),
        ("--edge-hours", float, "how long an edge keeps an object nobody asks for"),
        ("--redis-ttl", float, "REDIS_CACHE_EXPIRATION_SECONDS"),
    ):
        cost.add_argument(name, type=kind, help=what)
    cost.add_argument("--no-shield", action="store_true", help="without Origin Shield")
    cost.set_defaults(run=_cost)
    return parser


def _add_source_and_cache(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--source",
        metavar="DIR|s3://BUCKET/PREFIX",
        help="where images come from (default: the environment, else sample images)",
    )
    command.add_argument(
        "--cache",
        metavar="memory|none|redis://...",
        help="the result cache: in-process, none, or Redis at a redis:// or rediss:// URL "
        "(default: REDIS_URL from the environment, else memory)",
    )


def _serve(args: argparse.Namespace) -> int:
    _configure_source(args.source)
    _configure_cache(args.cache)
    if not any(os.environ.get(name) for name in ("RESULTS_BUCKET", "RESULTS_DIR")):
        # As a deployment keeps results too large to send in its bucket, so does this: here.
        os.environ["RESULTS_DIR"] = str(_cache_home() / "results")
    from image_optimizer.app import lambda_handler, logger, settings
    from image_optimizer.results.folder import FolderResultStore
    from image_optimizer_cli.playground_routes import Playground
    from image_optimizer_cli.results_routes import ResultFiles
    from image_optimizer_cli.server import LocalRoutes, bound_malloc_arenas, make_server

    bound_malloc_arenas()
    if sys.stdout.isatty():  # records as readable lines; elsewhere as JSON, one per request
        sys.stdout = ReadableStream(sys.__stdout__)
        logger.registered_handler.setStream(sys.stdout)

    described = _configured_service()
    configured = settings()
    named: dict[str, Iterable[str]] = {PRESET: configured.presets}
    for parameter in PARAMETERS:  # a name the deployment lists is a choice of them
        if parameter.kind is Kind.TEXT and parameter.allow_list is not None:
            named[parameter.name] = map(str, configured.allowed_values.get(parameter.name, ()))
    playground = Playground(described.source, configured.max_dimension, named)
    routes: list[LocalRoutes] = [playground]
    if isinstance(described.results, FolderResultStore):
        routes.append(ResultFiles(described.results))
    try:
        server = make_server(args.host, args.port, lambda_handler, routes)
    except OSError as error:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {error.strerror}") from None
    base = f"http://{args.host}:{server.server_address[1]}"
    print(f"image-optimizer {__version__} serving {base}", file=sys.stderr)
    print(f"  source: {described.source.describe()}", file=sys.stderr)
    print(f"  cache:  {described.cache.describe()}", file=sys.stderr)
    if described.results is not None:
        print(f"  large results: {described.results.describe()}", file=sys.stderr)
    print(f"  playground: {base}/", file=sys.stderr)
    if os.environ.get("SOURCE_DIR") == str(_samples_folder()):
        print(
            f"  try:    curl -o out.webp '{base}/images/{SAMPLES[0]}?w=400&format=webp'",
            file=sys.stderr,
        )
    with server:
        server.serve_forever()
    return 0


def _invoke(args: argparse.Namespace) -> int:
    try:
        event = json.loads(args.event.read_text(encoding="utf-8"))
        function = function_for(event)
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot invoke {args.event}: {error}") from None
    import importlib

    from image_optimizer.observability import logger

    module, _, name = function.rpartition(".")
    handler = getattr(importlib.import_module(module), name)
    if function == IMAGE_FUNCTION:
        _configured_service()
    # As `sam local invoke` does: the response alone on stdout, the function's output (its log
    # records and its metrics) on stderr.
    previous = logger.registered_handler.setStream(sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            response: dict[str, Any] = handler(event, LocalContext())
    except ConfigurationError as error:
        raise UsageError(f"{function}: {error}") from None
    finally:
        logger.registered_handler.setStream(previous)
    if args.body_out and function == IMAGE_FUNCTION:
        args.body_out.write_bytes(response_body(response))
    print(json.dumps(response, indent=2))
    # A fault of the function (a 5xx, messages it hands back to SQS) fails the command, so that
    # scripts and CI notice it.
    if function != IMAGE_FUNCTION:
        return EXIT_FAILED if response.get("batchItemFailures") else 0
    return EXIT_FAILED if int(response["statusCode"]) >= 500 else 0


def _warm(args: argparse.Namespace) -> int:
    _configure_source(args.source)
    _configure_cache(args.cache)
    from image_optimizer.app import settings
    from image_optimizer.request import parse_query
    from image_optimizer_cli.warm import progress_stream, warm

    if args.concurrency < 1:
        raise UsageError(f"--concurrency must be 1 or more, got {args.concurrency}")
    formats = _listed(args.formats)
    if "auto" in formats:
        raise UsageError(
            "--formats auto is settled by a browser's Accept header, which warming has none of; "
            "name the formats to make, such as webp,avif"
        )
    if not args.sizes and not args.presets:
        raise UsageError("name what to make: --sizes W,W,... and/or --presets NAME,... (or all)")
    built = _configured_service()
    configured = settings()
    presets = sorted(configured.presets) if args.presets == "all" else _listed(args.presets or "")
    asked = [f"w={size}" for size in _listed(args.sizes or "")] + [f"preset={p}" for p in presets]
    try:
        specs = [
            (f"{what} {fmt}", parse_query(f"{what}&format={fmt}", None, configured.max_dimension,
                                          configured.allowed_values, presets=configured.presets))
            for what in asked for fmt in formats
        ]  # fmt: skip
    except OptimizerError as error:
        raise UsageError(error.message) from None
    if configured.memory_cache_bytes and not configured.redis_url:
        print("note: the in-process cache ends with this command; --cache redis://... keeps "
              "the variants", file=sys.stderr)  # fmt: skip
    if not _reachable(built.cache):
        print(f"cannot reach the cache {built.cache.describe()}: nothing warmed", file=sys.stderr)
        return EXIT_FAILED
    keys = built.source.list_keys(args.prefix)
    if not keys:
        print(
            f"no images under {args.prefix!r} in {built.source.describe()}: nothing to warm",
            file=sys.stderr,
        )
        return EXIT_FAILED
    report = warm(built, keys, specs, args.concurrency, progress_stream())
    print(report.table())
    for key, variant, why in report.failures:
        print(f"failed: {key} ({variant}): {why}", file=sys.stderr)
    if built.cache.failures:
        # The command exists to fill the cache: variants made but not kept are a failure.
        print(
            f"the cache {built.cache.describe()} failed {built.cache.failures} times: "
            "the variants made since were not kept",
            file=sys.stderr,
        )
    return EXIT_FAILED if report.failures or built.cache.failures else 0


def _reachable(cache: Cache) -> bool:
    """Whether ``cache`` answers: one read of a key nothing is stored under."""
    from image_optimizer.cache import CacheKey

    cache.get(CacheKey(original="0" * 32, variant="0" * 64))
    return not cache.failures


def _purge(args: argparse.Namespace) -> int:
    if not args.keys and not args.prefix:
        raise UsageError("name the originals: one KEY or more, or --prefix PREFIX")
    shared = args.cache or os.environ.get("REDIS_URL")
    if shared in ("memory", "none") or (shared is None and args.distribution is None):
        raise UsageError(
            "purge acts on a shared cache: give --cache redis://... (or set REDIS_URL), "
            "and/or --distribution ID for CloudFront"
        )
    _configure_source(args.source)
    _configure_cache(shared or "none")
    built = _configured_service()
    keys = [*args.keys]
    for prefix in args.prefix:
        keys.extend(built.source.list_keys(prefix))
    from image_optimizer.cache import CacheUnavailable

    stores = [*([built.cache] if shared else []), *([built.results] if built.results else [])]
    if stores:
        try:
            variants = sum(store.purge(key) for store in stores for key in keys)
        except CacheUnavailable as error:
            print(f"purge failed: {error}", file=sys.stderr)
            return EXIT_FAILED
        where = " and ".join(store.describe() for store in stores)
        print(f"purged {len(keys)} originals, {variants} variants, from {where}")
    if args.distribution:  # a prefix's own path covers every URL under it, deleted ones too
        return _invalidate(args.distribution, keys, args.prefix)
    return 0


def _invalidate(distribution: str, keys: list[str], prefixes: list[str]) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from image_optimizer.invalidation import invalidate, invalidation_paths

    try:
        invalidation = invalidate(
            boto3.client("cloudfront"),
            distribution,
            keys,
            f"image-optimizer-purge-{time.time_ns()}",
            prefixes,
        )
    except (BotoCoreError, ClientError) as error:
        print(f"CloudFront invalidation failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    paths = ", ".join(invalidation_paths(keys, prefixes))
    print(f"CloudFront invalidation {invalidation} of {distribution}: {paths}")
    return 0


def _configured_service() -> ImageService:
    """The handler's service, built now: a missing or bad setting is one line and exit status 2
    here, rather than a 500 on the first request."""
    from image_optimizer.app import service

    try:
        return service()
    except ConfigurationError as error:
        raise UsageError(str(error)) from None


def _listed(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _sign(args: argparse.Namespace) -> int:
    """Sign as the service checks: a secret it would take, parameters it would accept (within
    MAX_DIMENSION, the ALLOWED_* lists and PRESETS, when they are set here)."""
    from image_optimizer.signing import sign_url

    secret = _secret(args.secret_file)
    if not secret:
        raise UsageError("no secret: set SIGNING_SECRET or pass --secret-file")
    expires = None if args.expires_in is None else int(time.time()) + args.expires_in
    try:
        key = signing_secret(secret, str(args.secret_file or "SIGNING_SECRET"))
        max_dimension, allowed = parameter_limits(os.environ)
        presets = read_presets(os.environ, max_dimension, allowed)
        print(
            sign_url(
                args.url,
                key,
                expires,
                max_dimension=max_dimension,
                allowed=allowed,
                presets=presets,
            )
        )
    except ConfigurationError as error:
        raise UsageError(str(error)) from None
    except OptimizerError as error:
        raise UsageError(f"the service would refuse this URL: {error.message}") from None
    except ValueError as error:
        raise UsageError(str(error)) from None
    return 0


def _secret(path: Path | None) -> str:
    """The signing secret from ``path``, else from SIGNING_SECRET; empty when neither has it."""
    if path is None:
        return os.environ.get("SIGNING_SECRET", "").strip()
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None


def _check(args: argparse.Namespace) -> int:
    from image_optimizer_cli.check import Deployment, Size, first_obstacle, run_checks, table

    if not args.url.startswith(("http://", "https://")):
        raise UsageError(f"URL must start with http:// or https://, got {args.url!r}")
    secret = _secret(args.secret_file)
    deployment = Deployment(args.url, args.key.strip("/"), secret.encode() if secret else None)
    size = Size.of(args.width, args.preset)
    obstacle = first_obstacle(deployment, size)
    if obstacle is not None:
        print(f"nothing checked: {obstacle}", file=sys.stderr)
        return EXIT_FAILED
    outcomes = list(run_checks(deployment, size, args.function_url))
    print(table(outcomes))
    broken = sum(outcome.held is False for outcome in outcomes)
    print(f"{broken} of {len(outcomes)} promises broken" if broken else "every promise held")
    return EXIT_FAILED if broken else 0


def _cost(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from image_optimizer_cli.cost import Deployment, estimate, report

    traffic = replace(
        EXAMPLES[args.site],
        **_given(args, requests="requests", originals="originals", variants="variants",
                 zipf="zipf", result_kb="kb"),
    )  # fmt: skip
    deployment = replace(
        Deployment(origin_shield=not args.no_shield),
        **_given(args, edges="edges", edge_hours="edge_hours", redis_ttl="redis_ttl"),
    )
    if min(traffic.requests, traffic.originals, traffic.variants, traffic.result_kb) <= 0:
        raise UsageError("--requests, --originals, --variants and --kb must be positive")
    print("\n".join(report(traffic, deployment, estimate(traffic, deployment))))
    return 0


def _given(args: argparse.Namespace, **fields: str) -> dict[str, Any]:
    """Field name -> the value of its option, for the options that were given."""
    return {
        field: getattr(args, option)
        for field, option in fields.items()
        if getattr(args, option) is not None
    }


def _configure_source(source: str | None) -> None:
    if source is None and any(os.environ.get(name) for name in ("SOURCE_DIR", "SOURCE_BUCKET")):
        return
    for name in _SOURCE_VARIABLES:
        os.environ.pop(name, None)
    if source is None:
        os.environ["SOURCE_DIR"] = str(ensure_samples(_samples_folder()))
        os.environ.setdefault("WATERMARKS", SAMPLE_WATERMARKS)
    elif source.startswith("s3://"):
        bucket, _, prefix = source.removeprefix("s3://").partition("/")
        if not bucket:
            raise UsageError(f"--source {source!r} names no bucket; use s3://BUCKET/PREFIX")
        os.environ["SOURCE_BUCKET"] = bucket
        os.environ["SOURCE_PREFIX"] = prefix
    elif Path(source).is_dir():
        os.environ["SOURCE_DIR"] = str(Path(source).resolve())
    else:
        raise UsageError(f"--source {source!r} is neither a folder nor s3://BUCKET/PREFIX")


def _configure_cache(cache: str | None) -> None:
    if cache is None:
        if not os.environ.get("REDIS_URL"):
            os.environ.setdefault("MEMORY_CACHE_BYTES", str(DEFAULT_MEMORY_CACHE_BYTES))
        return
    if cache.startswith(("redis://", "rediss://")):
        os.environ["REDIS_URL"] = cache
        return
    os.environ.pop("REDIS_URL", None)
    if cache == "memory":
        os.environ.setdefault("MEMORY_CACHE_BYTES", str(DEFAULT_MEMORY_CACHE_BYTES))
    elif cache == "none":
        os.environ["MEMORY_CACHE_BYTES"] = "0"
    else:
        raise UsageError(f"--cache must be memory, none or a redis:// URL, got {cache!r}")


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "image-optimizer"


def _samples_folder() -> Path:
    return _cache_home() / "samples"


if __name__ == "__main__":
    sys.exit(main())
