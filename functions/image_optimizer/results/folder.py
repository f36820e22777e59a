"""A local folder as the results store: what `image-optimizer serve` uses, and serves itself.

Each result is a file at its content-addressed path, with its Content-Type beside it in a small
JSON file. Nothing expires: a local folder is cleaned by hand.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from image_optimizer.cache import CachedImage, CacheKey
from image_optimizer.results import RESULTS_PATH, original_prefix, result_path


class FolderResultStore:
    def __init__(self, root: str | Path) -> None:
        self._root = Path(root).resolve()

    @property
    def lifetime_seconds(self) -> float:
        return math.inf

    def describe(self) -> str:
        return str(self._root)

    def put(self, key: CacheKey, image: CachedImage) -> str:
        path = result_path(key, image)
        file = self._file(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(image.body)
        file.with_name(f"{file.name}.json").write_text(json.dumps({"type": image.content_type}))
        return f"/{path}"

    def purge(self, image_key: str) -> int:
        folder = self._file(original_prefix(image_key))
        if not folder.is_dir():
            return 0
        count = sum(1 for file in folder.rglob("*") if file.is_file() and file.suffix != ".json")
        shutil.rmtree(folder)
        return count

    def read(self, path: str) -> tuple[str, bytes] | None:
        """The Content-Type and bytes at ``path`` (``results/...``), or None when there are none."""
        if not path.startswith(RESULTS_PATH):
            return None
        file = self._file(path)
        if not file.is_relative_to(self._root) or not file.is_file() or file.suffix == ".json":
            return None
        content_type = json.loads(file.with_name(f"{file.name}.json").read_text())["type"]
        return str(content_type), file.read_bytes()

    def _file(self, path: str) -> Path:
        return (self._root / path.removeprefix(RESULTS_PATH)).resolve()
