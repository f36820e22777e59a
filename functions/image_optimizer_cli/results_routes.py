"""The local server's ``/results/...``: results too large for a response, from the local folder.

In a deployment CloudFront serves these from the results bucket; locally the server serves
them from the folder the handler put them in (`FolderResultStore`), with the same headers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from image_optimizer.results import IMMUTABLE
from image_optimizer.results.folder import FolderResultStore
from image_optimizer.service import entity_tag
from image_optimizer_cli.playground_routes import Answer


class ResultFiles:
    def __init__(self, store: FolderResultStore) -> None:
        self._store = store

    def answer(self, method: str, target: str) -> Answer | None:
        """The stored result at ``target``; a 404 for a result path with nothing there; None
        for any other path (the handler's)."""
        path = urlsplit(target).path.removeprefix("/")
        if method not in ("GET", "HEAD") or not path.startswith("results/"):
            return None
        found = self._store.read(path)
        if found is None:
            return Answer(404, "text/plain; charset=utf-8", b"no such result")
        content_type, body = found
        # A strong tag from the bytes, as S3 gives every object one.
        headers = {"cache-control": IMMUTABLE, "etag": entity_tag(body)}
        return Answer(200, content_type, body, headers)
