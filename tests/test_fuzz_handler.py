"""Arbitrary paths and query strings through the handler: never a 5xx, every 4xx says why."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import get
from image_optimizer.parameters import NAMES as PARAMETER_NAMES
from parameter_strategies import ALL_SAMPLES, JUNK

KEYS = ["logos/badge.png", "photos/portrait.jpg", "missing.jpg", "logos", "logos/", ""]
# Every parameter of the table, and names and values that are none of its.
NAMES = [*PARAMETER_NAMES, "W", "FORMAT", "s", "expires", "width", ""]
VALUES = [*ALL_SAMPLES, *JUNK, "64", "%", "%zz", "%ff", "1e3", "\x00", "9" * 30]

fuzz = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def assert_answered_well(response: dict[str, object], method: str = "GET") -> None:
    status = response["statusCode"]
    assert isinstance(status, int)
    assert status < 500, response["body"]
    if method == "HEAD":
        assert response["body"] == ""  # the headers of a GET, never a body
    elif status >= 400:
        error = json.loads(str(response["body"]))["error"]
        assert error["code"]
        assert error["message"]


@pytest.fixture
def local(configure: Callable[..., None], samples_dir: Path) -> None:
    configure(SOURCE_DIR=str(samples_dir), MEMORY_CACHE_BYTES="50000000")


queries = st.lists(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES) | st.text(max_size=12)),
    max_size=5,
).map(lambda pairs: "&".join(f"{quote(n, safe='')}={quote(v, safe='%')}" for n, v in pairs))


@fuzz
@given(key=st.sampled_from(KEYS), query=queries, method=st.sampled_from(["GET", "HEAD", "POST"]))
def test_composed_requests(local: None, key: str, query: str, method: str) -> None:
    assert_answered_well(get(f"/images/{key}?{query}", method), method)


@fuzz
@given(path=st.text(max_size=40), query=st.text(max_size=40))
def test_raw_text_anywhere(local: None, path: str, query: str) -> None:
    target = "/" + quote(path, safe="/%") + "?" + quote(query, safe="=&%")
    assert_answered_well(get(target))
    assert_answered_well(get("/images/" + quote(path, safe="/%") + "?" + quote(query, safe="=&%")))


@fuzz
@given(raw=st.binary(max_size=40))
def test_undecodable_bytes_in_the_path(local: None, raw: bytes) -> None:
    assert_answered_well(get("/images/" + quote(raw, safe="/") + "?w=10"))
