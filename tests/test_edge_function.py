"""The CloudFront Function: its node tests, and agreement with the Lambda's own parsing."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from embed_in_template import SOURCE, deployed
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT
from edge_runner import CHROME, EDGE_TESTS, Deployment, at_the_edge, at_the_function, node
from image_optimizer.parameters import PARAMETERS
from image_optimizer.settings import DEFAULT_MAX_DIMENSION
from parameter_strategies import (
    PRESETS_SETTING,
    WATERMARKS_SETTING,
    pairs,
    query_of,
    sample_queries,
)


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    template: dict[str, Any] = cfn_yaml.load(str(ROOT / "template.yaml"))
    return template


def test_the_node_tests_pass() -> None:
    result = subprocess.run(
        [node(), "--test", str(EDGE_TESTS)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout


# A preset that draws a watermark, for the deployments that have them.
MARKED_PRESETS = f"{PRESETS_SETTING} marked:w=300&watermark=sample_2"
# The deployments both are tried under: the local server's, allow-lists, presets, watermarks,
# and the template's default of presets only for unsigned URLs.
DEPLOYMENTS = st.sampled_from(
    [
        Deployment(),
        Deployment(allowed={"w": [400, 1], "q": [80, 100]}),
        Deployment(allowed={"h": [4096]}, presets=PRESETS_SETTING),
        Deployment(allowed={"dpr": [1, 2, 2.5], "w": [4096]}, presets=PRESETS_SETTING),
        Deployment(presets=MARKED_PRESETS, watermarks=WATERMARKS_SETTING),
        Deployment(presets=PRESETS_SETTING, unsigned="presets"),
        Deployment(presets=PRESETS_SETTING, unsigned="none", signed=True),
    ]
)
ACCEPTS = st.sampled_from([CHROME, "*/*", ""])


def assert_agree(query: str, edge: dict[str, object], accept: str, deployment: Deployment) -> None:
    """What the edge does with ``query`` is what the function would have done with it."""
    direct = at_the_function(query, accept, deployment)
    if "error" in edge:
        assert edge == direct, (query, edge, direct)
        return
    forwarded = at_the_function(str(edge["query"]), accept, deployment)
    assert forwarded == direct, (query, edge, forwarded)  # never forwards a refusal, either


# One node process for a batch of examples: starting node for each one would take most of the
# time.
@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(pairs(), ACCEPTS), min_size=40, max_size=60), DEPLOYMENTS)
def test_the_edge_and_the_lambda_agree(
    cases: list[tuple[list[tuple[str, str]], str]], deployment: Deployment
) -> None:
    for accept in {accept for _, accept in cases}:
        queries = [query_of(drawn) for drawn, case_accept in cases if case_accept == accept]
        answers = at_the_edge(queries, accept, deployment.for_edge())
        for query, edge in zip(queries, answers, strict=True):
            assert_agree(query, edge, accept, deployment)


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
    assert_agree("format=auto", edge, accept, Deployment())


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
    defaults = {
        "${MaxDimension}": str(DEFAULT_MAX_DIMENSION),
        "${Presets}": "",
        "${UnsignedUrls}": "any",
        "${SigningOn}": "true",
    } | {"${" + p.allow_list.template_parameter + "}": "" for p in PARAMETERS if p.allow_list}
    code = deployed(SOURCE.read_text())
    for placeholder, value in defaults.items():
        code = code.replace(placeholder, value)
    assert "${" not in code
    (tmp_path / "deployed.js").write_text(code)
    queries = sample_queries(1000)
    for accept in (CHROME, ""):
        for deployment in (
            {},
            {"allowed": {"w": [400, 1], "dpr": [1, 2.5]}},
            {"presets": PRESETS_SETTING, "unsigned": "presets", "signed": False},
            {"presets": MARKED_PRESETS, "listed": {"watermark": WATERMARKS_SETTING}},
        ):
            ours = at_the_edge(queries, accept, deployment, code=tmp_path / "deployed.js")
            assert ours == at_the_edge(queries, accept, deployment)


def test_under_the_templates_defaults_a_stranger_reaches_few_variants(
    source: dict[str, Any],
) -> None:
    """As the template configures the edge by default (presets only for unsigned URLs, no
    signing), every query that gets through is one of presets x formats: at most 1,000
    variants of an original, and all else is refused before a Lambda runs."""
    parameters = source["Parameters"]
    defaults = Deployment(
        presets=parameters["Presets"]["Default"],
        unsigned=parameters["UnsignedUrls"]["Default"],
        signed=False,
    )
    names = sorted(item.split(":")[0] for item in defaults.presets.split())
    formats = ["", "jpeg", "png", "webp", "avif", "gif"]
    reachable = {
        f"preset={name}" + (f"&format={f}" if f else "") for name in names for f in formats
    }
    assert len(reachable) <= 1000
    tried = sample_queries(1000)
    tried += [f"preset={n}&format={f}" for n in [*names, "nosuch"] for f in [*formats, "auto"]]
    tried += [f"preset={names[0]}&w=5000&s=AAAA&expires=1", "w=400&s=forged", "s=x&expires=9"]
    through = set()
    for accept in (CHROME, "image/webp", ""):
        for query, edge in zip(tried, at_the_edge(tried, accept, defaults.for_edge()), strict=True):
            if "query" in edge:
                through.add(edge["query"])
            else:
                assert edge["status"] in (400, 403), (query, edge)
    assert through <= reachable
    assert len(through) >= len(names) * 5  # the presets are reachable, in the formats
