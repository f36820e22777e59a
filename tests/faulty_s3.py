"""A proxy on loopback in front of moto's S3 server that passes requests on, or misbehaves as S3
does: throttles (503 SlowDown), fails (500), denies (403), answers too slowly, or drops the
connection. Set ``mode``; ``requests``, ``seen`` and the rest count what it was asked."""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def s3_error(code: str, message: str) -> bytes:
    """An error body as S3 writes it."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"
    ).encode()


# Replies the proxy gives instead of forwarding, by mode: what S3 answers in each case.
CANNED = {
    "throttle": (503, s3_error("SlowDown", "Please reduce your request rate.")),
    "unavailable": (503, s3_error("ServiceUnavailable", "Please reduce your request rate.")),
    "error": (500, s3_error("InternalError", "We encountered an internal error.")),
    # Without s3:ListBucket, S3 answers a GET of a missing key with this rather than a 404.
    "deny": (403, s3_error("AccessDenied", "Access Denied")),
}


class FaultyS3:
    def __init__(self, upstream: str) -> None:
        self.mode = "pass"
        self.requests = 0
        self.connections = 0
        self.seen: list[str] = []
        self.authorizations: list[str] = []
        self.tokens: list[str | None] = []
        target = urlsplit(upstream)
        faults = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                return

            def setup(self) -> None:
                faults.connections += 1
                super().setup()

            def _any(self) -> None:
                faults.requests += 1
                faults.seen.append(f"{self.command} {self.path}")
                faults.authorizations.append(self.headers.get("Authorization", ""))
                faults.tokens.append(self.headers.get("X-Amz-Security-Token"))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if faults.mode == "drop":
                    self.connection.close()  # no status line at all
                    return
                if faults.mode in CANNED:
                    status, payload = CANNED[faults.mode]
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if faults.mode == "slow":
                    time.sleep(1.5)
                upstream_connection = http.client.HTTPConnection(target.hostname, target.port)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = target.netloc
                upstream_connection.request(self.command, self.path, body or None, headers)
                reply = upstream_connection.getresponse()
                payload = reply.read()
                self.send_response(reply.status)
                for name, value in reply.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_HEAD = do_PUT = do_POST = _any  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
