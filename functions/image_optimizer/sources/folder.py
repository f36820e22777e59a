"""A local folder as the image source: what `image-optimizer serve` uses by default."""

from __future__ import annotations

from pathlib import Path

from image_optimizer.errors import ImageNotFound, SourceTooLarge
from image_optimizer.sources import too_large_message


class FolderSource:
    def __init__(self, root: str | Path, max_bytes: int) -> None:
        self._root = Path(root).resolve()
        self._max_bytes = max_bytes

    def describe(self) -> str:
        return str(self._root)

    def fetch(self, key: str) -> bytes:
        path = (self._root / key).resolve()
        # A key is a path below the root; a symlink or anything else that leads out is not there.
        if not path.is_relative_to(self._root):
            raise ImageNotFound(f"no image at {key!r}")
        try:
            with path.open("rb") as file:
                size = path.stat().st_size
                if size > self._max_bytes:
                    raise SourceTooLarge(too_large_message(size, self._max_bytes))
                return file.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ImageNotFound(f"no image at {key!r}") from None

    def list_keys(self, prefix: str = "", limit: int = 10_000) -> list[str]:
        keys = (
            path.relative_to(self._root).as_posix()
            for path in self._root.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        )
        return sorted(key for key in keys if key.startswith(prefix))[:limit]
