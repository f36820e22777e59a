"""Where results too large for a Lambda response are kept and served from.

A Lambda response carries about 4.5 MB of image; a full-size WebP of a 24 MP photo, or a large
PNG, is more. Such a result is written to a results store and the request is answered with a
redirect to it. Paths are content-addressed, ``results/<original>/<variant>/<etag>``: a variant
made again from a replaced original gets a new path, so an old copy cached anywhere is never
served in its place, and a purge removes everything under ``results/<original>/``.

One small protocol with two implementations: an S3 bucket (CloudFront serves its ``results/``
prefix through Origin Access Control) and a local folder (the local server serves it).
"""

from __future__ import annotations

from typing import Protocol

from image_optimizer.cache import CachedImage, CacheKey, original_of
from image_optimizer.settings import Settings

RESULTS_PATH = "results/"
IMMUTABLE = "public, max-age=31536000, immutable"  # a path names one set of bytes for ever
LASTING = "public, immutable"  # with an Expires header at the end of the bucket's lifetime


class ResultStore(Protocol):
    def put(self, key: CacheKey, image: CachedImage) -> str:
        """Keep ``image``; returns the path on this host it is served from (``/results/...``)."""
        ...

    def purge(self, image_key: str) -> int:
        """Remove every result of the original ``image_key``; returns how many there were."""
        ...

    @property
    def lifetime_seconds(self) -> float:
        """How long a result stays after it is put (then it may be gone)."""
        ...

    def describe(self) -> str:
        """Where results are kept, for logs and the local server's banner."""
        ...


def result_path(key: CacheKey, image: CachedImage) -> str:
    """``results/<original>/<variant>/<etag>``, relative: the store's key and the URL's path."""
    return f"{RESULTS_PATH}{key.original}/{key.variant}/{image.etag.strip(chr(34))}"


def original_prefix(image_key: str) -> str:
    return f"{RESULTS_PATH}{original_of(image_key)}/"


def results_from_settings(settings: Settings) -> ResultStore | None:
    """The configured store, or None: then a result too large to send is a 413."""
    if settings.results_bucket:
        from image_optimizer.results.s3 import S3ResultStore  # boto3 only when it is used

        return S3ResultStore(settings.results_bucket, settings.results_days)
    if settings.results_dir:
        from image_optimizer.results.folder import FolderResultStore

        return FolderResultStore(settings.results_dir)
    return None
