"""The playground's own routes on the local server: the page, its assets, the image list, originals.

Only `image-optimizer serve` answers these; the Lambda never does. The page makes a control for
each URL parameter from ``/playground/parameters``, the parameter table as JSON. Images
themselves are asked of the real handler at /images/..., exactly as a browser would ask a
deployment.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from urllib.parse import unquote, urlsplit

from image_optimizer.errors import OptimizerError
from image_optimizer.parameters import PARAMETERS, Kind, Parameter
from image_optimizer.settings import DEFAULT_MAX_DIMENSION
from image_optimizer.sources import Source

ASSETS = ("index.html", "playground.css", "playground.js")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif")


@dataclass(frozen=True, slots=True)
class Answer:
    """What one of the local server's own routes answers."""

    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class Playground:
    def __init__(
        self,
        source: Source,
        max_dimension: int = DEFAULT_MAX_DIMENSION,
        names: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        """``names``: the deployment's names a text parameter takes (presets, watermarks)."""
        self._source = source
        self._max_dimension = max_dimension
        self._names = {name: sorted(values) for name, values in (names or {}).items()}

    def answer(self, method: str, target: str) -> Answer | None:
        """The playground's answer to a request, or None when the handler should answer it."""
        path = urlsplit(target).path
        if method not in ("GET", "HEAD"):
            return None
        if path == "/":
            return _asset("index.html")
        if path.startswith("/playground/assets/"):
            name = path.removeprefix("/playground/assets/")
            return _asset(name) if name in ASSETS else _not_found()
        if path == "/playground/parameters":
            controls = [_control(p, self._max_dimension, self._names) for p in PARAMETERS]
            body = {"parameters": controls}
            return Answer(200, "application/json", json.dumps(body).encode())
        if path == "/playground/images":
            keys = [
                k for k in self._source.list_keys(limit=500) if k.lower().endswith(IMAGE_SUFFIXES)
            ]
            return Answer(200, "application/json", json.dumps({"images": keys}).encode())
        if path.startswith("/playground/original/"):
            key = unquote(path.removeprefix("/playground/original/"))
            try:
                data = self._source.fetch(key)
            except OptimizerError as error:
                return Answer(error.status, "application/json", json.dumps(error.body()).encode())
            content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
            return Answer(200, content_type, data)
        return None


def _control(
    parameter: Parameter, max_dimension: int, names: Mapping[str, list[str]]
) -> dict[str, object]:
    """What the page needs to make a control for ``parameter``; a text the deployment names
    (a preset, a watermark) is a choice of its names."""
    named = parameter.name in names
    return {
        "name": parameter.name,
        "kind": Kind.CHOICE.value if named else parameter.kind.value,
        "meaning": parameter.meaning,
        "choices": names[parameter.name] if named else list(parameter.choices),
        "low": parameter.low,
        "high": parameter.upper(max_dimension),
        "decimals": parameter.decimals,
    }


def _asset(name: str) -> Answer:
    body = resources.files("image_optimizer_cli.playground").joinpath(name).read_bytes()
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or name.endswith(".js"):
        content_type += "; charset=utf-8"
    return Answer(200, content_type, body)


def _not_found() -> Answer:
    return Answer(404, "text/plain; charset=utf-8", b"not found")
