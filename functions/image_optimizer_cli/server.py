"""A local HTTP server before the real handler: `sam local start-api` without Docker.

Every request becomes a Function URL event; the handler's response is written back as it is
(status, headers, cookies, the base64 body decoded). One thread per request, like concurrent
invocations sharing one warm container.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from image_optimizer_cli.lambda_events import LocalContext, function_url_event, response_body

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def make_server(host: str, port: int, handler: Handler) -> ThreadingHTTPServer:
    class RequestHandler(_LambdaRequestHandler):
        lambda_handler = staticmethod(handler)

    server = ThreadingHTTPServer((host, port), RequestHandler)
    server.daemon_threads = True
    return server


class _LambdaRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "image-optimizer"
    sys_version = ""
    lambda_handler: Handler

    def _forward(self) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        event = function_url_event(
            self.command, self.path, self.headers.items(), body, self.client_address[0]
        )
        response = self.lambda_handler(event, LocalContext())
        payload = response_body(response)
        self.send_response(int(response["statusCode"]))
        headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
        headers.setdefault("content-length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        for cookie in response.get("cookies") or []:
            self.send_header("set-cookie", cookie)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        elapsed = (time.perf_counter() - started) * 1000
        print(
            f"{self.command} {self.path} -> {response['statusCode']} ({elapsed:.1f} ms)",
            file=sys.stderr,
        )

    # http.server dispatches on these names; every method goes to the handler, which answers 405.
    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _forward  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        # _forward prints one line per request with the handler's status and time instead.
        return
