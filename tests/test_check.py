"""`image-optimizer check` against the real local server: every promise holds there, and each
promise broken on purpose (by a proxy in front that changes one thing) is the row that fails."""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from image_optimizer_cli.main import main
from local_server import start_server

SECRET = "a-signing-secret-for-the-check"
KEY = "landscapes/main.jpg"


def serve(tmp_path_factory: pytest.TempPathFactory, **variables: str) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCE_", "REDIS_", "SIGN"))}
    env["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg"))
    process, url = start_server(env={**env, **variables})
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory)


@pytest.fixture(scope="module")
def signed_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory, SIGNING_SECRET=SECRET)


def check(url: str, *more: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["check", url, "--key", KEY, *more])
    return code, capsys.readouterr().out.splitlines()


def row(lines: list[str], promise: str) -> str:
    [found] = [line for line in lines if promise in line]
    return found


def test_every_promise_holds_on_the_local_server(
    local: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIGNING_SECRET", raising=False)
    code, lines = check(local, capsys=capsys)
    assert code == 0, "\n".join(lines)
    assert [line[:4] for line in lines[:6]] == ["ok  "] * 6
    assert row(lines, "signed ones served").startswith("--")
    assert row(lines, "Function URL").startswith("--")
    assert lines[-1] == "every promise held"


def test_with_signing_on_it_signs_and_checks_that_unsigned_urls_are_refused(
    signed_local: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("SIGNING_SECRET", raising=False)
    assert main(["check", signed_local, "--key", KEY]) == 1
    assert capsys.readouterr() == (
        "",
        "nothing checked: this deployment answers signed URLs only: give its secret with "
        "--secret-file\n",
    )
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    code, lines = check(signed_local, "--secret-file", str(secret), capsys=capsys)
    assert code == 0, "\n".join(lines)
    assert row(lines, "signed ones served").endswith("unsigned 403, signed 200")


def test_the_function_url_must_refuse_direct_calls(
    local: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIGNING_SECRET", raising=False)
    code, lines = check(local, "--function-url", local, capsys=capsys)  # it answers: broken
    assert code == 1
    assert row(lines, "Function URL").startswith("FAIL")
    assert "200 when called directly" in row(lines, "Function URL")


Breakage = Callable[[str, dict[str, str]], tuple[str, dict[str, str]]]


class Breaking:
    """A proxy in front of the local server that changes one thing about what it answers."""

    def __init__(self, upstream: str, breakage: Callable[..., None]) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                return

            def do_GET(self) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                request = urllib.request.Request(upstream + self.path, headers=headers)
                try:
                    with opener.open(request) as response:
                        status, answer, body = (
                            response.status,
                            dict(response.headers),
                            response.read(),
                        )
                except urllib.error.HTTPError as error:
                    status, answer, body = error.code, dict(error.headers), error.read()
                status, answer, body = breakage(self.path, dict(self.headers), status, answer, body)
                self.send_response(status)
                for name, value in answer.items():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class NoRedirects(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *_: object) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirects)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def without(name: str) -> Callable[..., tuple[int, dict[str, str], bytes]]:
    def breakage(path: str, request: dict[str, str], status: int, headers: dict[str, str],
                 body: bytes) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
        return status, {k: v for k, v in headers.items() if k.lower() != name}, body

    return breakage


def replacing(
    when: Callable[[str, dict[str, str], int], bool], status: int | None, headers: dict[str, str]
) -> Callable[..., tuple[int, dict[str, str], bytes]]:
    """Where ``when`` says, the answer with ``status`` (None: its own) and ``headers`` set."""

    def breakage(path: str, request: dict[str, str], old_status: int, old: dict[str, str],
                 body: bytes) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
        if when(path, request, old_status):
            return status or old_status, {**old, **headers}, body
        return old_status, old, body

    return breakage


@pytest.mark.parametrize(
    ("promise", "breakage"),
    [
        ("an image is served", replacing(lambda p, r, s: "format=webp" in p,
                                         None, {"Content-Type": "image/png"})),
        ("a second request is a cache hit", replacing(lambda p, r, s: True, None,
                                                      {"X-Cache": "miss"})),
        ("format=auto follows Accept", without("vary")),
        ("a bad parameter is a 400", replacing(lambda p, r, s: "w=abc" in p, 200, {})),
        ("a missing image is a 404", replacing(lambda p, r, s: s == 404, 200, {})),
        ("If-None-Match with the ETag is a 304", without("etag")),
    ],
)  # fmt: skip
def test_each_broken_promise_is_the_row_that_fails(
    local: str,
    promise: str,
    breakage: Callable[..., tuple[int, dict[str, str], bytes]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SIGNING_SECRET", raising=False)
    proxy = Breaking(local, breakage)
    try:
        code, lines = check(proxy.url, capsys=capsys)
    finally:
        proxy.server.shutdown()
    assert code == 1
    failed = [line for line in lines if line.startswith("FAIL")]
    assert len(failed) == 1, "\n".join(lines)
    assert promise in failed[0]
    assert lines[-1] == "1 of 8 promises broken"


def test_nothing_listening_is_one_line(
    refused_port: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIGNING_SECRET", raising=False)
    base = f"http://127.0.0.1:{refused_port}"
    assert main(["check", base, "--key", KEY]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"nothing checked: no answer from {base}: [Errno 111] Connection refused\n"


def test_a_key_that_is_not_there_is_one_line(
    local: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIGNING_SECRET", raising=False)
    assert main(["check", local, "--key", "no/such.jpg"]) == 1
    assert capsys.readouterr() == (
        "",
        "nothing checked: 'no/such.jpg' is not an image there (404 image_not_found): check --key\n",
    )


def test_a_url_that_is_not_http_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["check", "cdn.example.com", "--key", KEY])
    assert exit_.value.code == 2
    assert "URL must start with http:// or https://" in capsys.readouterr().err


@pytest.fixture(scope="module")
def presets_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory, PRESETS="small:w=160", UNSIGNED_URLS="presets")


def test_where_unsigned_urls_name_presets_it_checks_one(
    presets_only: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIGNING_SECRET", raising=False)
    assert main(["check", presets_only, "--key", KEY]) == 1
    assert capsys.readouterr().err == (
        "nothing checked: unsigned URLs may only name a preset here: pass --preset NAME, or "
        "--secret-file\n"
    )
    code, lines = check(presets_only, "--preset", "small", capsys=capsys)
    assert code == 0, "\n".join(lines)
    assert row(lines, "an image is served").startswith("ok")
    assert "160x" in row(lines, "an image is served")
    assert row(lines, "a bad parameter is a 400").startswith("ok")
