"""The CloudFront Function: its node tests, and agreement with the Lambda's own parsing."""

from __future__ import annotations

import json
import shutil
import subprocess
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT
from image_optimizer.errors import InvalidParameter
from image_optimizer.request import parse_query

EDGE_TESTS = ROOT / "tests" / "edge"
CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def node() -> str:
    executable = shutil.which("node")
    assert executable, "node is needed to test the CloudFront Function"
    return executable


def test_the_node_tests_pass() -> None:
    result = subprocess.run(
        [node(), "--test", str(EDGE_TESTS)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout


def at_the_edge(
    queries: list[str], accept: str, allowed: dict[str, list[int]] | None = None
) -> list[dict[str, object]]:
    """Run the CloudFront Function on each query; returns the query it forwards or its 400."""
    script = """
const { loadHandler, viewerRequest } = require(process.argv[1]);
const handler = loadHandler(JSON.parse(process.argv[2]));
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
        [node(), "-e", script, str(EDGE_TESTS / "harness.js"), json.dumps(allowed)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    outcome: list[dict[str, object]] = json.loads(result.stdout)
    return outcome


def lambda_outcome(
    query: str, accept: str, allowed: dict[str, list[int]] | None = None
) -> dict[str, object]:
    limits = {name: frozenset(values) for name, values in (allowed or {}).items()}
    try:
        return {"spec": parse_query(query, accept, 4096, limits).canonical()}
    except InvalidParameter as error:
        return {
            "error": {"code": error.code, "message": error.message, "parameter": error.parameter}
        }


values = st.sampled_from(
    ["400", "0400", "0", "1", "4096", "4097", "abc", "80", "100", "101", "-1", "1.5", "jpg",
     "jpeg", "JPEG", "png", "webp", "avif", "gif", "auto", "tiff", "cover", "contain", "fill",
     "inside", "outside", "zoom", "", " 4", "top", "Top-Left", "entropy", "attention", "middle",
     ".5", "0.50", "0.125", "0.1234", "1.0", "2.0", "2.5", "4", "4.1", "1e0", "3"]
)  # fmt: skip
names = st.sampled_from(["w", "h", "q", "format", "fit", "position", "fx", "fy", "dpr", "frames"])


ALLOW_LISTS = st.sampled_from(
    [None, {"w": [400, 1], "q": [80, 100]}, {"h": [4096]}, {"dpr": [1, 2, 2.5], "w": [4096]}]
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(names, values), max_size=5),
    st.sampled_from([CHROME, "*/*", ""]),
    ALLOW_LISTS,
)
def test_the_edge_and_the_lambda_agree(
    pairs: list[tuple[str, str]], accept: str, allowed: dict[str, list[int]] | None
) -> None:
    query = "&".join(f"{name}={value}" for name, value in pairs)
    [edge] = at_the_edge([query], accept, allowed)
    direct = lambda_outcome(query, accept, allowed)
    lenient = lambda_outcome(query.lower(), accept, allowed)  # the edge lower-cases (JPEG)
    if "error" in edge:
        # The edge reads format, fit and position in any case, and quotes values as sent.
        assert edge["error"] == direct.get("error") or _without_case(edge["error"]) == (
            _without_case(lenient.get("error"))
        ), (query, edge, direct)
        return
    forwarded = lambda_outcome(str(edge["query"]), accept, allowed)
    assert "error" not in forwarded, (query, edge, forwarded)  # never forwards a refusal
    if "error" in direct:
        assert lenient == forwarded, (query, edge)
    else:
        assert forwarded == direct, (query, edge)


@pytest.mark.parametrize(
    "accept",
    [
        "image/avif;q=0.5,image/webp", "image/avif;q=0,image/webp", "image/avif;q=0.000",
        "image/avif; Q=1", "image/avif;q=1.000", "image/avif;q=.5", "image/avif;q=0.5abc",
        "image/avif;q=inf", "image/avif;q=Infinity", "image/avif;q=nan", "image/avif;q==1",
        "image/avif;q=", "image/avif;q=2", "image/avif;q=0x1", "image/avif;q=1e0",
        "image/avif;q=+0.5", "image/avif;q=0.0001", "IMAGE/WEBP;level=1;q=0.1",
    ],
)  # fmt: skip
def test_the_edge_and_the_lambda_read_accept_alike(accept: str) -> None:
    [edge] = at_the_edge(["format=auto"], accept)
    forwarded = lambda_outcome(str(edge["query"]), "")
    assert forwarded == lambda_outcome("format=auto", accept), (accept, edge)


def _without_case(error: object) -> object:
    return {k: str(v).lower() for k, v in error.items()} if isinstance(error, dict) else error


@pytest.mark.parametrize(
    ("query", "forwarded"),
    [
        ("format=auto&w=400", "w=400&format=avif"),
        ("utm_source=x&w=400", "w=400"),
        ("FORMAT=jpg&W=0400", "w=400&format=jpeg"),
        ("dpr=2.0&position=TOP&h=3&w=4", "w=4&h=3&position=top&dpr=2"),
        ("fy=.50&fx=1.0&frames=1", "fx=1&fy=0.5&frames=1"),
    ],
)
def test_examples(query: str, forwarded: str) -> None:
    assert at_the_edge([query], CHROME) == [{"query": forwarded}]
