"""The CloudFront Function run under node, as CloudFront would run it on a viewer request."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from conftest import ROOT
from image_optimizer.errors import OptimizerError
from image_optimizer.parameters import BY_NAME
from image_optimizer.request import canonical_query, split_query, transform_spec
from image_optimizer.settings import Settings
from image_optimizer.signing import check_unsigned

EDGE_TESTS = ROOT / "tests" / "edge"
CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def node() -> str:
    executable = shutil.which("node")
    assert executable, "node is needed to test the CloudFront Function"
    return executable


def at_the_edge(
    queries: list[str],
    accept: str,
    deployment: dict[str, object] | None = None,
    code: Path | None = None,
    uri: str = "/images/x.jpg",
) -> list[dict[str, object]]:
    """Run the CloudFront Function on each query, all in one node process; returns for each
    the query it forwards (and the path, when it changed it), or its refusal. ``deployment``
    stands in for the template's values (tests/edge/harness.js); ``code`` for another copy of
    the function (as deployed, say)."""
    script = """
const { loadHandler, viewerRequest } = require(process.argv[1]);
const handler = loadHandler(JSON.parse(process.argv[2]), process.argv[3] || undefined);
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.map(({ pairs, accept, uri }) => {
    const querystring = {};
    for (const [name, value] of pairs) {
        const first = querystring[name];
        querystring[name] = first
            ? { value: first.value, multiValue: [...(first.multiValue || [first]), { value }] }
            : { value };
    }
    const result = handler(viewerRequest(uri, querystring, accept));
    if (result.statusCode) {
        return { status: result.statusCode, error: JSON.parse(result.body.data).error };
    }
    const forwarded = Object.entries(result.querystring).map(([n, e]) => n + '=' + e.value);
    const answer = { query: forwarded.join('&') };
    return result.uri === uri ? answer : { ...answer, uri: result.uri };
});
process.stdout.write(JSON.stringify(out));
"""
    cases = [
        {
            "pairs": [list(pair) for pair in parse_qsl(query, keep_blank_values=True)],
            "accept": accept,
            "uri": uri,
        }
        for query in queries
    ]
    result = subprocess.run(
        [
            node(),
            "-e",
            script,
            str(EDGE_TESTS / "harness.js"),
            json.dumps(deployment or {}),
            str(code or ""),
        ],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    outcome: list[dict[str, object]] = json.loads(result.stdout)
    return outcome


@dataclass(frozen=True)
class Deployment:
    """What the template tells both the CloudFront Function and the function: allow-lists,
    presets (as the template writes them), what unsigned URLs may ask for, signing on or off."""

    allowed: dict[str, list[float]] = field(default_factory=dict)
    presets: str = ""
    unsigned: str = "any"
    signed: bool = False
    watermarks: str = ""  # WATERMARKS, as JSON

    def for_edge(self) -> dict[str, object]:
        return {
            "allowed": self.allowed, "presets": self.presets, "unsigned": self.unsigned,
            "signed": self.signed, "listed": {"watermark": self.watermarks},
        }  # fmt: skip

    def settings(self) -> Settings:
        variables = {
            "SOURCE_BUCKET": "b", "PRESETS": self.presets, "UNSIGNED_URLS": self.unsigned,
            "WATERMARKS": self.watermarks,
        }  # fmt: skip
        if self.signed:
            variables["SIGNING_SECRET"] = "a-secret-of-16-characters-or-more"
        for name, values in self.allowed.items():
            variables[BY_NAME[name].allow_list.variable] = ",".join(f"{v:g}" for v in values)  # type: ignore[union-attr]
        return Settings.from_env(variables)


def at_the_function(query: str, accept: str, deployment: Deployment) -> dict[str, object]:
    """What the function answers to an unsigned ``query``: its spec's canonical form, or its
    refusal (status and error), as the handler reaches them."""
    configured = deployment.settings()
    presets = configured.presets
    try:
        canonical = canonical_query(
            split_query(query), configured.max_dimension, configured.allowed_values, presets
        )
        spec = transform_spec(canonical, accept, presets)
        check_unsigned(configured.unsigned_urls, canonical, presets)
    except OptimizerError as error:
        return {"status": error.status, "error": error.body()["error"]}
    return {"spec": spec.canonical()}
