"""X-Ray subsegments for the service's stages when TRACING_ENABLED is true; nothing otherwise."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_xray_sdk.core import xray_recorder

from image_optimizer.errors import ImageNotFound
from image_optimizer.request import parse_query
from image_optimizer.service import ImageService
from image_optimizer.settings import ConfigurationError, Settings


class Daemon:
    """A stand-in for the X-Ray daemon: what the SDK sends to UDP on loopback, decoded."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(2)
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"

    def subsegments(self, count: int) -> list[dict[str, Any]]:
        received = []
        while len(received) < count:
            header, _, body = self.socket.recv(65536).partition(b"\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            document = json.loads(body)
            if document.get("type") == "subsegment":
                received.append(document)
        return received


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    """An invocation's segment, as Lambda opens one when tracing is active, and the daemon."""
    listener = Daemon()
    xray_recorder.configure(daemon_address=listener.address, context_missing="RUNTIME_ERROR")
    xray_recorder.begin_segment("image-optimizer", sampling=1)
    yield listener
    xray_recorder.clear_trace_entities()
    listener.socket.close()


def traced_service(samples_dir: Path, tracing: bool = True) -> ImageService:
    """The service as the settings build it, with the sample images and an in-process cache."""
    settings = Settings(
        source_dir=str(samples_dir), memory_cache_bytes=10**8, tracing_enabled=tracing
    )
    return ImageService.from_settings(settings)


def test_a_miss_and_a_hit_are_traced_by_stage(samples_dir: Path, daemon: Daemon) -> None:
    service = traced_service(samples_dir)
    spec = parse_query("w=100&format=webp", None, 4096)
    service.serve("landscapes/main.jpg", spec)
    miss = daemon.subsegments(5)
    assert [s["name"] for s in miss] == ["cache", "wait", "fetch", "transform", "store"]
    assert all(s["end_time"] >= s["start_time"] for s in miss)
    assert len({s["trace_id"] for s in miss}) == 1
    service.serve("landscapes/main.jpg", spec)
    assert [s["name"] for s in daemon.subsegments(1)] == ["cache"]


def test_without_tracing_nothing_is_sent(samples_dir: Path, daemon: Daemon) -> None:
    traced_service(samples_dir, tracing=False).serve(
        "landscapes/main.jpg", parse_query("w=90", None, 4096)
    )
    with pytest.raises(TimeoutError):
        daemon.subsegments(1)


def test_a_failing_stage_is_recorded_as_such(samples_dir: Path, daemon: Daemon) -> None:
    with pytest.raises(ImageNotFound):
        traced_service(samples_dir).serve("missing.jpg", parse_query("w=100", None, 4096))
    fetch = daemon.subsegments(3)[-1]
    assert fetch["name"] == "fetch"
    assert fetch["cause"]["exceptions"][0]["type"] == "ImageNotFound"


def test_tracing_is_a_setting() -> None:
    assert Settings.from_env({"SOURCE_BUCKET": "b"}).tracing_enabled is False
    assert Settings.from_env({"SOURCE_BUCKET": "b", "TRACING_ENABLED": "true"}).tracing_enabled
    with pytest.raises(ConfigurationError, match="TRACING_ENABLED must be true or false"):
        Settings.from_env({"SOURCE_BUCKET": "b", "TRACING_ENABLED": "maybe"})


def run_python(code: str, samples_dir: Path, tracing: str) -> subprocess.CompletedProcess[str]:
    env = {"SOURCE_DIR": str(samples_dir), "TRACING_ENABLED": tracing, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.fresh_interpreter
def test_without_tracing_the_sdk_is_never_loaded(samples_dir: Path) -> None:
    code = (
        "import sys\n"
        "from image_optimizer import app\n"
        "from image_optimizer.request import parse_query\n"
        "app.service().serve('logos/badge.png', parse_query('w=10', None, 4096))\n"
        "assert 'aws_xray_sdk' not in sys.modules\n"
    )
    result = run_python(code, samples_dir, "false")
    assert result.returncode == 0, result.stderr


@pytest.mark.fresh_interpreter
def test_tracing_without_the_sdk_stops_the_container_with_a_clear_message(
    samples_dir: Path,
) -> None:
    code = (
        "import sys\n"
        "sys.modules['aws_xray_sdk'] = None  # as on a layer built without it\n"
        "from image_optimizer import app\n"
        "app.service()\n"
    )
    result = run_python(code, samples_dir, "true")
    assert result.returncode != 0
    assert "TRACING_ENABLED is true but aws-xray-sdk is not installed" in result.stderr
