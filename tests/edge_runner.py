"""The CloudFront Function run under node, as CloudFront would run it on a viewer request."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl

from conftest import ROOT

EDGE_TESTS = ROOT / "tests" / "edge"
CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def node() -> str:
    executable = shutil.which("node")
    assert executable, "node is needed to test the CloudFront Function"
    return executable


def at_the_edge(
    queries: list[str],
    accept: str,
    allowed: dict[str, list[float]] | None = None,
    code: Path | None = None,
) -> list[dict[str, object]]:
    """Run the CloudFront Function on each query, all in one node process; returns for each
    the query it forwards or its 400. ``code``: another copy of it (as deployed, say)."""
    script = """
const { loadHandler, viewerRequest } = require(process.argv[1]);
const handler = loadHandler(JSON.parse(process.argv[2]), process.argv[3] || undefined);
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.map(({ pairs, accept }) => {
    const querystring = {};
    for (const [name, value] of pairs) {
        const first = querystring[name];
        querystring[name] = first
            ? { value: first.value, multiValue: [...(first.multiValue || [first]), { value }] }
            : { value };
    }
    const result = handler(viewerRequest('/images/x.jpg', querystring, accept));
    if (result.statusCode) return { error: JSON.parse(result.body.data).error };
    const forwarded = Object.entries(result.querystring).map(([n, e]) => n + '=' + e.value);
    return { query: forwarded.join('&') };
});
process.stdout.write(JSON.stringify(out));
"""
    cases = [
        {
            "pairs": [list(pair) for pair in parse_qsl(query, keep_blank_values=True)],
            "accept": accept,
        }
        for query in queries
    ]
    result = subprocess.run(
        [
            node(),
            "-e",
            script,
            str(EDGE_TESTS / "harness.js"),
            json.dumps(allowed),
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
