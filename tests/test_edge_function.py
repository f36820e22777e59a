"""The CloudFront Function: its node tests, and agreement with the Lambda's own parsing."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from embed_in_template import SOURCE, deployed
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_runner import CHROME, EDGE_TESTS, at_the_edge, node
from image_optimizer.errors import InvalidParameter
from image_optimizer.parameters import PARAMETERS
from image_optimizer.request import parse_query
from image_optimizer.settings import DEFAULT_MAX_DIMENSION
from parameter_strategies import find_examples, pairs, query_of


def test_the_node_tests_pass() -> None:
    result = subprocess.run(
        [node(), "--test", str(EDGE_TESTS)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout


def lambda_outcome(
    query: str, accept: str, allowed: dict[str, list[float]] | None = None
) -> dict[str, object]:
    limits = {name: frozenset(values) for name, values in (allowed or {}).items()}
    try:
        return {"spec": parse_query(query, accept, 4096, limits).canonical()}
    except InvalidParameter as error:
        return {
            "error": {"code": error.code, "message": error.message, "parameter": error.parameter}
        }


ALLOW_LISTS = st.sampled_from(
    [None, {"w": [400, 1], "q": [80, 100]}, {"h": [4096]}, {"dpr": [1, 2, 2.5], "w": [4096]}]
)
ACCEPTS = st.sampled_from([CHROME, "*/*", ""])


def assert_agree(query: str, edge: dict[str, object], accept: str, allowed: Any) -> None:
    """What the edge does with ``query`` is what the function would have done with it."""
    direct = lambda_outcome(query, accept, allowed)
    if "error" in edge:
        assert edge["error"] == direct.get("error"), (query, edge, direct)
        return
    forwarded = lambda_outcome(str(edge["query"]), accept, allowed)
    assert forwarded == direct, (query, edge, forwarded)  # never forwards a refusal, either


# One node process for a batch of examples: starting node for each one would take most of the
# time.
@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(pairs(), ACCEPTS), min_size=40, max_size=60), ALLOW_LISTS)
def test_the_edge_and_the_lambda_agree(
    cases: list[tuple[list[tuple[str, str]], str]], allowed: dict[str, list[float]] | None
) -> None:
    for accept in {accept for _, accept in cases}:
        queries = [query_of(drawn) for drawn, case_accept in cases if case_accept == accept]
        for query, edge in zip(queries, at_the_edge(queries, accept, allowed), strict=True):
            assert_agree(query, edge, accept, allowed)


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
    assert_agree("format=auto", edge, accept, None)


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


def test_the_deployed_code_answers_as_the_file_does(tmp_path: Path) -> None:
    """Stripping comments and indentation, and the template's values (their defaults here),
    change nothing the function does."""
    defaults = {"${MaxDimension}": str(DEFAULT_MAX_DIMENSION)} | {
        "${" + p.allow_list.template_parameter + "}": "" for p in PARAMETERS if p.allow_list
    }
    code = deployed(SOURCE.read_text())
    for placeholder, value in defaults.items():
        code = code.replace(placeholder, value)
    assert "${" not in code
    (tmp_path / "deployed.js").write_text(code)
    queries = [query_of(drawn) for drawn in find_examples(pairs(), 300)]
    for accept in (CHROME, ""):
        for allowed in (None, {"w": [400, 1], "dpr": [1, 2.5]}):
            ours = at_the_edge(queries, accept, allowed, code=tmp_path / "deployed.js")
            assert ours == at_the_edge(queries, accept, allowed)
