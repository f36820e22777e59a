"""Sources: a local folder and S3 over HTTP (moto's server), and how S3's answers translate."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from conftest import BUCKET, PREFIX
from image_optimizer.errors import ImageNotFound, SourceTooLarge
from image_optimizer.sources.folder import FolderSource
from image_optimizer.sources.s3 import S3Error, S3Source


class TestFolder:
    def test_reads_a_file_below_the_root(self, tmp_path: Path) -> None:
        (tmp_path / "a").mkdir()
        (tmp_path / "a" / "b.jpg").write_bytes(b"pixels")
        assert FolderSource(tmp_path, 100).fetch("a/b.jpg") == b"pixels"

    @pytest.mark.parametrize("key", ["missing.jpg", "a", "a/b.jpg/c", "../outside.jpg"])
    def test_missing_things_are_not_found(self, tmp_path: Path, key: str) -> None:
        (tmp_path / "a").mkdir()
        (tmp_path / "a" / "b.jpg").write_bytes(b"pixels")
        (tmp_path.parent / "outside.jpg").write_bytes(b"secret")
        with pytest.raises(ImageNotFound):
            FolderSource(tmp_path, 100).fetch(key)

    def test_a_symlink_out_of_the_root_is_not_followed(self, tmp_path: Path) -> None:
        root = tmp_path / "root"
        root.mkdir()
        (tmp_path / "secret.jpg").write_bytes(b"secret")
        os.symlink(tmp_path / "secret.jpg", root / "link.jpg")
        with pytest.raises(ImageNotFound):
            FolderSource(root, 100).fetch("link.jpg")

    def test_lists_keys_under_a_prefix(self, tmp_path: Path) -> None:
        for key in ("a/1.jpg", "a/2.png", "b/3.gif", ".hidden"):
            (tmp_path / key).parent.mkdir(exist_ok=True)
            (tmp_path / key).write_bytes(b"x")
        source = FolderSource(tmp_path, 100)
        assert source.list_keys() == ["a/1.jpg", "a/2.png", "b/3.gif"]
        assert source.list_keys("a/") == ["a/1.jpg", "a/2.png"]
        assert source.list_keys(limit=1) == ["a/1.jpg"]

    def test_too_large(self, tmp_path: Path) -> None:
        (tmp_path / "big.jpg").write_bytes(b"x" * 101)
        with pytest.raises(SourceTooLarge, match="101 bytes, more than the 100 bytes"):
            FolderSource(tmp_path, 100).fetch("big.jpg")


class TestS3:
    def test_reads_under_the_prefix(self, s3: Any) -> None:
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}x/y.bin", Body=b"hello")
        source = S3Source(BUCKET, PREFIX, 100)
        assert source.fetch("x/y.bin") == b"hello"
        assert source.describe() == f"s3://{BUCKET}/{PREFIX}"

    def test_lists_keys_under_the_prefix(self, s3: Any) -> None:
        keys = S3Source(BUCKET, PREFIX, 100).list_keys("logos/")
        assert keys == ["logos/badge.png"]
        assert "corpus/tree.webp" in S3Source(BUCKET, PREFIX, 100).list_keys()

    def test_keys_are_percent_encoded_once(self, s3: Any) -> None:
        for key in ("a b/ü+x.jpg", "odd/100%25 ~(1)!.png", "q?/h#.gif"):
            s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}{key}", Body=key.encode())
            assert S3Source(BUCKET, PREFIX, 100).fetch(key) == key.encode()

    def test_missing(self, s3: Any) -> None:
        with pytest.raises(ImageNotFound):
            S3Source(BUCKET, PREFIX, 100).fetch("nope/none.jpg")

    def test_too_large_is_refused_from_its_length(self, s3: Any) -> None:
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}big.bin", Body=b"x" * 5000)
        with pytest.raises(SourceTooLarge, match="5000 bytes"):
            S3Source(BUCKET, PREFIX, 4999).fetch("big.bin")

    def test_a_missing_bucket_is_not_hidden_as_a_missing_image(self, s3_endpoint: str) -> None:
        with pytest.raises(S3Error, match="404 NoSuchBucket"):
            S3Source("bucket-that-is-not-there", "", 100).fetch("a.jpg")
