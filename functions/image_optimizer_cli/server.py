"""A local HTTP server before the real handler: `sam local start-api` without Docker.

Every request becomes a Function URL event; the handler's response is written back as it is
(status, headers, cookies, the base64 body decoded). Connections are served on threads, but the
handler runs one request at a time, as in one Lambda container: handlers (Powertools' resolver
among them) keep per-request state in module globals, which Lambda never shares between
concurrent requests.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from image_optimizer_cli.lambda_events import LocalContext, function_url_event, response_body
from image_optimizer_cli.playground_routes import Answer

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


_M_ARENA_MAX = -8  # glibc's mallopt() parameter


def bound_malloc_arenas(arenas: int = 2) -> None:
    """Keep glibc from giving every server thread its own malloc arena.

    glibc makes up to eight arenas a core as threads allocate, and each keeps the freed image
    buffers it once held: the server reached ~330 MB after a load test, and grew by 20-50 MB
    between equal rounds, noise that hides a real leak. Call before the threads start. Other
    C libraries (macOS, musl) have no such arenas and are left alone.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(_M_ARENA_MAX, arenas)


class LocalRoutes(Protocol):
    def answer(self, method: str, target: str) -> Answer | None:
        """The answer to a request, or None when the Lambda handler should answer it."""
        ...


def make_server(
    host: str,
    port: int,
    handler: Handler,
    routes: Sequence[LocalRoutes] = (),
) -> ThreadingHTTPServer:
    """A server on ``host:port`` (port 0: any free one); the ``routes`` (the playground, the
    results folder) answer first, the handler what they leave. It logs nothing itself: each
    request the handler answers is its one log record already."""

    class RequestHandler(_LambdaRequestHandler):
        lambda_handler = staticmethod(handler)
        container = threading.Lock()
        local_routes = tuple(routes)

    server = ThreadingHTTPServer((host, port), RequestHandler)
    server.daemon_threads = True
    return server


class _LambdaRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "image-optimizer"
    # Headers and body go out in two writes; with Nagle's algorithm on, the body waits for the
    # client's delayed ACK of the headers: ~40 ms added to most responses.
    disable_nagle_algorithm = True
    lambda_handler: Handler
    container: threading.Lock
    local_routes: tuple[LocalRoutes, ...]

    def _forward(self) -> None:
        for routes in self.local_routes:
            answer = routes.answer(self.command, self.path)
            if answer is not None:
                headers = {**answer.headers, "content-type": answer.content_type}
                self._write(answer.status, headers, answer.body)
                return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        event = function_url_event(
            self.command, self.path, self.headers.items(), body, self.client_address[0]
        )
        with self.container:
            response = self.lambda_handler(event, LocalContext())
        headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
        self._write(int(response["statusCode"]), headers, response_body(response), response)

    # http.server dispatches on these names; every method goes to the handler, which answers 405.
    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _forward  # noqa: N815

    def _write(
        self,
        status: int,
        headers: dict[str, str],
        payload: bytes,
        response: dict[str, Any] | None = None,
    ) -> None:
        self.send_response(status)
        headers.setdefault("content-length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        for cookie in (response or {}).get("cookies") or []:
            self.send_header("set-cookie", cookie)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def version_string(self) -> str:
        return self.server_version  # not http.server's "<name> Python/3.12": nobody needs that

    def log_message(self, format: str, *args: Any) -> None:
        return  # the handler's record of the request says all an access line would
