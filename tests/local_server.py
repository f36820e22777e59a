"""`image-optimizer serve` as a real process, and a small HTTP client to ask it."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

BANNER = re.compile(r"serving (http://127\.0\.0\.1:\d+)")


def start_server(
    *args: str, env: dict[str, str], stdout: int = subprocess.DEVNULL, log: Path | None = None
) -> tuple[subprocess.Popen[str], str]:
    """The server on a free port, and its base URL once it says it is serving.

    Standard error goes to a file, not a pipe: a pipe nobody reads after the banner fills up,
    and then anything the server writes there blocks its thread for good. The file is ``log``
    when given, else a temporary one removed once the banner is read (the server keeps writing
    to its own descriptor)."""
    with (
        log.open("w+") if log else tempfile.NamedTemporaryFile("w+", prefix="serve-", suffix=".log")
    ) as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "image_optimizer_cli.main", "serve", "--port", "0", *args],
            stderr=log_file,
            stdout=stdout,
            text=True,
            env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            match = BANNER.search(Path(log_file.name).read_text())
            if match:
                return process, match.group(1)
            time.sleep(0.05)
        process.kill()
        raise AssertionError(f"the server did not start: {Path(log_file.name).read_text()[-2000:]}")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_: Any) -> None:
        return None  # the 3xx comes back as it is


def fetch(
    url: str, method: str = "GET", *, follow: bool = True
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (names in lower case) and body of ``url``."""
    request = urllib.request.Request(url, method=method)
    opener = urllib.request.build_opener(*(() if follow else (_NoRedirects(),)))
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, _lower(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, _lower(error.headers.items()), error.read()


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}
