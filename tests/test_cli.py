"""`image-optimizer`: `serve` as a real process answering HTTP, `invoke` on the sample events."""

from __future__ import annotations

import http.client
import json
import os
import pty
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import BUCKET, EVENTS, PREFIX
from image_optimizer import __version__
from image_optimizer_cli.main import main
from image_optimizer_cli.server import make_server
from images import decode
from local_server import fetch, start_server
from redis_server import RedisServer

HEALTHY = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"}


@pytest.fixture
def default_server(clean_env: dict[str, str]) -> Iterator[str]:
    process, base = start_server(env=clean_env)
    yield base
    process.terminate()
    process.wait(timeout=10)


def test_serve_with_no_options_serves_the_samples(default_server: str) -> None:
    status, headers, body = fetch(f"{default_server}/images/landscapes/main.jpg?w=400&format=webp")
    assert status == 200
    assert headers["content-type"] == "image/webp"
    image = decode(body)
    assert (image.format, image.width) == ("WEBP", 400)
    assert headers["x-cache"] == "miss"
    assert headers["server"] == "image-optimizer"
    _, again, _ = fetch(f"{default_server}/images/landscapes/main.jpg?w=400&format=webp")
    assert again["x-cache"] == "hit"


def test_the_server_turns_nagles_algorithm_off_on_its_connections() -> None:
    """Headers and body are two writes: with Nagle on, the body waits ~40 ms for an ACK."""
    server = make_server("127.0.0.1", 0, lambda event, context: HEALTHY)
    accepted: list[socket.socket] = []
    original_get_request = server.get_request

    def get_request() -> tuple[socket.socket, Any]:
        connection, address = original_get_request()
        accepted.append(connection)
        return connection, address

    server.get_request = get_request  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        client.request("GET", "/health")
        assert client.getresponse().read() == b"{}"
        [connection] = accepted  # kept open: HTTP/1.1 keep-alive
        assert connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        client.close()
    finally:
        server.shutdown()
        server.server_close()


def test_serve_passes_errors_and_head_through(default_server: str) -> None:
    status, headers, body = fetch(f"{default_server}/images/landscapes/main.jpg?w=abc")
    assert status == 400
    assert json.loads(body)["error"]["parameter"] == "w"
    status, headers, body = fetch(f"{default_server}/images/photos/portrait.jpg?w=300", "HEAD")
    assert status == 200
    assert body == b""
    assert int(headers["content-length"]) > 0
    status, headers, _ = fetch(f"{default_server}/images/photos/portrait.jpg", "DELETE")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


def test_serve_from_s3_without_a_cache(clean_env: dict[str, str], s3_endpoint: str) -> None:
    env = {**clean_env, "AWS_ENDPOINT_URL_S3": s3_endpoint}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    process, base = start_server("--source", f"s3://{BUCKET}/{PREFIX}", "--cache", "none", env=env)
    try:
        status, headers, body = fetch(f"{base}/images/corpus/tree.webp?w=100")
        assert status == 200
        assert decode(body).size == (100, 75)
        _, headers, _ = fetch(f"{base}/images/corpus/tree.webp?w=100")
        assert headers["x-cache"] == "miss"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_from_a_folder(clean_env: dict[str, str], samples_dir: Path) -> None:
    process, base = start_server("--source", str(samples_dir), env=clean_env)
    try:
        status, _, body = fetch(f"{base}/images/logos/badge.png?w=50&format=avif")
        assert status == 200
        assert decode(body).size == (50, 50)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_with_redis_survives_redis_stopping(
    clean_env: dict[str, str], own_redis: RedisServer
) -> None:
    process, base = start_server("--cache", own_redis.url, env=clean_env)
    url = f"{base}/images/landscapes/main.jpg?w=200&format=avif"
    try:
        first, second = fetch(url), fetch(url)
        assert (first[1]["x-cache"], second[1]["x-cache"]) == ("miss", "hit")
        own_redis.kill()
        third = fetch(url)
        assert third[0] == 200
        assert third[1]["x-cache"] == "miss"
        assert third[2] == first[2]  # the same image, made again
        assert third[1]["etag"] == first[1]["etag"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_on_a_terminal_prints_readable_records(clean_env: dict[str, str]) -> None:
    terminal, device = pty.openpty()
    process, base = start_server(env=clean_env, stdout=device)
    os.close(device)
    try:
        fetch(f"{base}/images/landscapes/main.jpg?w=400&format=webp")
        fetch(f"{base}/images/landscapes/main.jpg?w=abc")
        shown = read_until(terminal, "invalid_parameter")
    finally:
        process.terminate()
        process.wait(timeout=10)
        os.close(terminal)
    miss, refused = [line for line in shown.splitlines() if "GET /images/" in line]
    assert "INFO" in miss
    assert "-> 200  miss" in miss
    assert "jpeg 2400x1600" in miss
    assert "-> webp 400x267" in miss
    assert "decode" in miss
    assert "WARNING" in refused
    assert "-> 400  invalid_parameter" in refused
    assert "_aws" not in shown
    assert '{"level"' not in shown


def test_serve_elsewhere_prints_one_json_record_a_request(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    """Piped to a file, as under a supervisor: the records alone, no access line beside them."""
    with (tmp_path / "out").open("w") as out:
        process, base = start_server(env=clean_env, stdout=out.fileno(), log=tmp_path / "err")
        try:
            fetch(f"{base}/images/landscapes/main.jpg?w=40")
            fetch(f"{base}/images/landscapes/main.jpg?w=abc")
            fetch(f"{base}/playground/images")  # the playground's own: no record, no line
        finally:
            process.terminate()
            process.wait(timeout=10)
    # Every line is JSON: the requests' records, and the cold start's metric beside the first.
    lines = [json.loads(line) for line in (tmp_path / "out").read_text().splitlines()]
    requests = [(line["status"], line["path"]) for line in lines if "message" in line]
    assert requests == [(200, "/images/landscapes/main.jpg"), (400, "/images/landscapes/main.jpg")]
    assert " -> " not in (tmp_path / "err").read_text()  # and no access line beside them


def read_until(terminal: int, marker: str, limit_seconds: float = 30) -> str:
    text, deadline = "", time.monotonic() + limit_seconds
    while marker not in text and time.monotonic() < deadline:
        ready, _, _ = select.select([terminal], [], [], 0.5)
        if ready:
            text += os.read(terminal, 65536).decode("utf-8", "replace")
    assert marker in text, text
    return text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--source", "/no/such/folder"], "neither a folder nor s3://BUCKET/PREFIX"),
        (["serve", "--source", "s3:///prefix"], "names no bucket"),
        (["serve", "--cache", "disk"], "--cache must be memory, none or a redis:// URL"),
        (
            ["invoke", "/no/such/event.json"],
            "cannot invoke /no/such/event.json: [Errno 2] No such file",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert message in error
    assert error.startswith("image-optimizer: error:")


INVOKE = ["invoke", str(EVENTS / "function-url-get.json")]
NO_FOLDER = "SOURCE_DIR must be an existing folder, got '/no/such'"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (INVOKE, {}, "set SOURCE_BUCKET (S3) or SOURCE_DIR (a local folder)"),
        (INVOKE, {"SOURCE_DIR": "/no/such"}, NO_FOLDER),
        (["serve"], {"SOURCE_DIR": "/no/such"}, NO_FOLDER),
        (["warm", "", "--sizes", "100"], {"SOURCE_DIR": "/no/such"}, NO_FOLDER),
        (
            ["serve"],
            {"SOURCE_BUCKET": "b", "MAX_DIMENSION": "big"},
            "MAX_DIMENSION must be an integer, got 'big'",
        ),
    ],
)
def test_a_missing_or_bad_setting_is_one_line_and_exit_2(
    configure: Callable[..., None],
    args: list[str],
    env: dict[str, str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(**env)
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == f"image-optimizer: error: {message}\n"
    assert captured.out == ""


def test_invoke_exits_1_when_the_function_answers_5xx(
    s3_handler: Callable[..., None],
    refused_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{refused_port}")
    s3_handler(S3_MAX_ATTEMPTS="1")
    assert main(["invoke", str(EVENTS / "function-url-get.json")]) == 1
    response = json.loads(capsys.readouterr().out)
    assert response["statusCode"] == 503  # still printed: the answer is what one debugs


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("[1, 2]", "an event is a JSON object, not list"),
        ('"text"', "an event is a JSON object, not str"),
        ("{not json", "Expecting property name enclosed in double quotes"),
        ('{"Records": []}', "not an event of this stack's functions"),
        ('{"rawPath": "/images/a.jpg"}', "not an event of this stack's functions"),
    ],
)
def test_a_file_that_is_no_event_is_one_line_and_exit_2(
    tmp_path: Path, content: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    event = tmp_path / "event.json"
    event.write_text(content)
    with pytest.raises(SystemExit) as exited:
        main(["invoke", str(event)])
    assert exited.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"image-optimizer: error: cannot invoke {event}: ")
    assert why in line


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"image-optimizer {__version__}"


def test_invoke_prints_the_response_and_writes_the_body(
    s3_handler: Callable[..., None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = tmp_path / "out.webp"
    assert main(["invoke", str(EVENTS / "function-url-get.json"), "--body-out", str(body)]) == 0
    response = json.loads(capsys.readouterr().out)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "image/webp"
    assert decode(body.read_bytes()).width == 400


HTTP_EVENTS = [
    ("function-url-get.json", 200),
    ("function-url-not-found.json", 404),
    ("function-url-bad-parameter.json", 400),
    ("function-url-head-auto-format.json", 200),
    ("http-api-get.json", 200),
    ("function-url-animated.json", 200),
    ("function-url-crop-attention.json", 200),
]


def test_every_http_sample_event_is_tested() -> None:
    on_disk = {path.name for path in EVENTS.glob("*.json") if not path.name.startswith("sqs-")}
    assert on_disk == {name for name, _ in HTTP_EVENTS}


@pytest.mark.parametrize(("event", "status"), HTTP_EVENTS)
def test_every_sample_event_through_invoke(
    s3_handler: Callable[..., None], event: str, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invoke", str(EVENTS / event)]) == 0
    assert json.loads(capsys.readouterr().out)["statusCode"] == status
