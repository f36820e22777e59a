"""Settings: every variable read, defaults, and a clear refusal of bad values at start-up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from image_optimizer.parameters import PARAMETERS
from image_optimizer.settings import ConfigurationError, Settings


def test_defaults_with_a_bucket() -> None:
    settings = Settings.from_env({"SOURCE_BUCKET": "originals"})
    assert settings == Settings(source_bucket="originals")
    assert settings.max_dimension == 4096
    assert settings.max_animation_frames == 300
    assert settings.cache_control == "public, max-age=86400"


def test_allow_lists() -> None:
    settings = Settings.from_env(
        {
            "SOURCE_BUCKET": "b",
            "ALLOWED_WIDTHS": " 320, 640,640 ",
            "ALLOWED_QUALITIES": "0,80",
            "ALLOWED_DENSITIES": "1,1.5, 2.0",
        }
    )
    assert settings.allowed_values == {"w": {320, 640}, "q": {0, 80}, "dpr": {1, 1.5, 2}}


def test_every_variable(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "SOURCE_DIR": str(tmp_path),
            "SOURCE_PREFIX": "/uploads/",
            "MAX_DIMENSION": "2000",
            "MAX_SOURCE_BYTES": "1000",
            "MAX_SOURCE_PIXELS": "2000",
            "MAX_ANIMATION_FRAMES": "12",
            "CACHE_CONTROL": "public, max-age=60",
            "MEMORY_CACHE_BYTES": "4096",
        }
    )
    assert settings == Settings(
        source_dir=str(tmp_path),
        source_prefix="uploads/",
        max_dimension=2000,
        max_source_bytes=1000,
        max_source_pixels=2000,
        max_animation_frames=12,
        cache_control="public, max-age=60",
        memory_cache_bytes=4096,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "set SOURCE_BUCKET (S3) or SOURCE_DIR"),
        ({"SOURCE_BUCKET": "b", "SOURCE_DIR": "/d"}, "not both"),
        ({"SOURCE_DIR": "/no/such/folder"}, "SOURCE_DIR must be an existing folder"),
        ({"SOURCE_BUCKET": "b", "MAX_DIMENSION": "big"}, "MAX_DIMENSION must be an integer"),
        ({"SOURCE_BUCKET": "b", "MAX_DIMENSION": "0"}, "MAX_DIMENSION must be from 1 to 16384"),
        (
            {"SOURCE_BUCKET": "b", "MAX_ANIMATION_FRAMES": "0"},
            "MAX_ANIMATION_FRAMES must be from 1 to 10000",
        ),
        ({"SOURCE_BUCKET": "b", "MEMORY_CACHE_BYTES": "-1"}, "MEMORY_CACHE_BYTES must be from 0"),
        (
            {"SOURCE_BUCKET": "b", "ALLOWED_WIDTHS": "320,abc"},
            "ALLOWED_WIDTHS must be a comma-separated list of integers from 1 to 4096, got 'abc'",
        ),
        (
            {"SOURCE_BUCKET": "b", "MAX_DIMENSION": "1000", "ALLOWED_HEIGHTS": "2000"},
            "ALLOWED_HEIGHTS must be a comma-separated list of integers from 1 to 1000",
        ),
        ({"SOURCE_BUCKET": "b", "ALLOWED_QUALITIES": "101"}, "ALLOWED_QUALITIES must be a"),
        (
            {"SOURCE_BUCKET": "b", "ALLOWED_DENSITIES": "1,1.25"},
            "ALLOWED_DENSITIES must be a comma-separated list of numbers (at most 1 decimal) "
            "from 1 to 4, got '1.25'",
        ),
        ({"SOURCE_BUCKET": "b", "ALLOWED_DENSITIES": "0.5"}, "from 1 to 4, got '0.5'"),
        ({"SOURCE_BUCKET": "b", "ALLOWED_WIDTHS": "1.5"}, "list of integers from 1 to 4096"),
    ],
)
def test_bad_configuration_is_refused_by_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        Settings.from_env(env)


def test_the_signing_secret_stays_out_of_the_settings_repr() -> None:
    secret = "a-long-signing-secret-0123456789"
    settings = Settings.from_env({"SOURCE_BUCKET": "b", "SIGNING_SECRET": secret})
    assert settings.signing_secret == secret.encode()
    shown = repr(settings)
    assert secret not in shown
    assert "signing_secret=..." in shown
    assert "source_bucket='b'" in shown
    assert "signing_secret=None" in repr(Settings(source_bucket="b"))  # none to hide


def test_a_source_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    image = tmp_path / "photo.jpg"
    image.write_bytes(b"not a folder")
    with pytest.raises(ConfigurationError, match="SOURCE_DIR must be an existing folder"):
        Settings.from_env({"SOURCE_DIR": str(image)})


def test_every_variable_read_is_documented() -> None:
    """docs/configuration.md lists each variable settings.py reads (the allow-lists' names
    are in the parameter table)."""
    root = Path(__file__).resolve().parents[1]
    code = (root / "functions" / "image_optimizer" / "settings.py").read_text()
    read = set(re.findall(r'"([A-Z][A-Z0-9]+_[A-Z0-9_]+)"', code))  # its variables' names
    read |= {p.allow_list.variable for p in PARAMETERS if p.allow_list is not None}
    table = (root / "docs" / "configuration.md").read_text()
    listed = {name for row in table.splitlines() if row.startswith("| `")
              for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}  # fmt: skip
    assert len(read) > 30
    assert read <= listed, sorted(read - listed)
