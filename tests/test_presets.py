"""Presets (PRESETS, ?preset=) and what an unsigned URL may ask for (UNSIGNED_URLS)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from conftest import error_of, get
from image_optimizer.errors import InvalidParameter
from image_optimizer.request import parse_query
from image_optimizer.settings import ConfigurationError, Settings
from image_optimizer.signing import sign_url, verify
from parameter_strategies import PRESETS_SETTING

SECRET = "a-secret-of-16-characters-or-more"
PRESETS = Settings.from_env({"SOURCE_BUCKET": "b", "PRESETS": PRESETS_SETTING}).presets


def parse(query: str, accept: str | None = None) -> object:
    return replace(parse_query(query, accept, 4096, presets=PRESETS), negotiated=False)


class TestTheSetting:
    def test_each_preset_is_read_in_canonical_form(self) -> None:
        environment = {"SOURCE_BUCKET": "b", "PRESETS": " Card:W=0400&h=300&FIT=Cover  t:q=70 "}
        assert Settings.from_env(environment).presets == {
            "card": {"w": "400", "h": "300", "fit": "cover"},
            "t": {"q": "70"},
        }

    @pytest.mark.parametrize(
        ("presets", "error"),
        [
            ("my_card:w=4", "PRESETS' 'my_card': preset must be the name of a preset"),
            ("card:w=abc", "PRESETS' 'card': w must be an integer from 1 to 4096, got 'abc'"),
            ("card:width=4", "PRESETS' 'card': unknown parameter 'width'"),
            ("card:format=webp", "PRESETS' 'card' names a preset or a format"),
            ("card:preset=thumb", "PRESETS' 'card' names a preset or a format"),
            ("card:", "PRESETS' 'card' has no parameters"),
            ("card:position=top&fx=0.2", "PRESETS' 'card': position and fx/fy both say"),
        ],
    )
    def test_a_bad_preset_is_refused_with_its_name(self, presets: str, error: str) -> None:
        with pytest.raises(ConfigurationError) as refused:
            Settings.from_env({"SOURCE_BUCKET": "b", "PRESETS": presets})
        assert str(refused.value).startswith(error)

    @pytest.mark.parametrize(
        ("variables", "mode"),
        [
            ({}, "any"),  # as before the setting: no signing, anything
            ({"SIGNING_SECRET": SECRET}, "none"),  # signing on, every URL signed
            ({"SIGNING_SECRET_NAME": "/image-optimizer/secret"}, "none"),
            ({"UNSIGNED_URLS": "presets", "PRESETS": "a:w=1"}, "presets"),
            ({"UNSIGNED_URLS": "any", "SIGNING_SECRET": SECRET}, "any"),
        ],
    )
    def test_what_unsigned_urls_may_ask_for(self, variables: dict[str, str], mode: str) -> None:
        assert Settings.from_env({"SOURCE_BUCKET": "b", **variables}).unsigned_urls == mode

    @pytest.mark.parametrize(
        ("variables", "error"),
        [
            ({"UNSIGNED_URLS": "some"}, "UNSIGNED_URLS must be any, presets or none, got 'some'"),
            ({"UNSIGNED_URLS": "presets"}, "UNSIGNED_URLS=presets needs PRESETS to name some"),
            ({"UNSIGNED_URLS": "none"}, "UNSIGNED_URLS=none needs SIGNING_SECRET or"),
            ({"SIGNING_SECRET": " " * 20}, "SIGNING_SECRET is blank; leave it unset"),
        ],
    )
    def test_settings_that_would_serve_what_was_not_meant_are_refused(
        self, variables: dict[str, str], error: str
    ) -> None:
        with pytest.raises(ConfigurationError, match=error):
            Settings.from_env({"SOURCE_BUCKET": "b", **variables})


class TestParsing:
    def test_a_preset_is_its_parameters(self) -> None:
        assert parse("preset=card") == parse("w=400&h=300&fit=cover")
        assert parse("PRESET=Card&format=webp") == parse("w=400&h=300&fit=cover&format=webp")

    def test_what_the_url_gives_takes_the_presets_place(self) -> None:
        assert parse("preset=card&h=100&fit=contain") == parse("w=400&h=100&fit=contain")
        assert parse("preset=thumb&q=90") == parse("w=160&q=90")

    def test_dpr_1_with_a_preset_undoes_the_presets_density(self) -> None:
        assert parse("preset=still&w=50&dpr=1") == parse("w=50&frames=1")
        assert parse("preset=still&w=50") == parse("w=100&frames=1")

    def test_fit_stays_beside_a_preset_that_gives_both_sides(self) -> None:
        assert parse("preset=card&fit=fill") == parse("w=400&h=300&fit=fill")

    def test_a_preset_may_include_edits(self) -> None:
        presets = Settings.from_env(
            {"SOURCE_BUCKET": "b", "PRESETS": "mono:w=400&grayscale=1&rotate=90&bg=FFFFFF"}
        ).presets
        spec = parse_query("preset=mono", None, 4096, presets=presets)
        assert (spec.grayscale, spec.rotate, spec.background) == (True, 90, "ffffff")

    def test_an_unknown_preset_names_the_known_ones(self) -> None:
        with pytest.raises(InvalidParameter) as refused:
            parse("preset=hero")
        assert (refused.value.message, refused.value.parameter) == (
            "preset must be one of card, still, thumb, got 'hero'",
            "preset",
        )
        with pytest.raises(InvalidParameter, match="one of none: this deployment has no presets"):
            parse_query("preset=card", None, 4096)

    def test_the_rules_between_parameters_see_the_presets(self) -> None:
        with pytest.raises(InvalidParameter, match="dpr 4 makes h 4800, more than 4096"):
            parse("preset=card&h=1200&dpr=4")
        presets = {"top": {"w": "10", "h": "10", "position": "top"}}
        with pytest.raises(InvalidParameter, match="position and fx/fy"):
            parse_query("preset=top&fx=0.2", None, 4096, presets=presets)


class TestThroughTheHandler:
    @pytest.fixture
    def presets_only(self, s3_handler: Callable[..., None]) -> Callable[..., None]:
        def apply(**variables: str) -> None:
            s3_handler(PRESETS="small:w=40 card:w=40&h=30", UNSIGNED_URLS="presets", **variables)

        apply()
        return apply

    def test_an_unsigned_preset_is_served(self, presets_only: Callable[..., None]) -> None:
        response = get("/images/logos/badge.png?preset=small&format=webp")
        assert response["statusCode"] == 200
        assert response["headers"]["Content-Type"] == "image/webp"

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("w=40", "w needs a signed URL"),
            ("preset=small&q=90", "q needs a signed URL"),
            ("format=webp", "name one of card, small"),
            ("", "name one of card, small"),
        ],
    )
    def test_anything_else_unsigned_is_403(
        self, presets_only: Callable[..., None], query: str, message: str
    ) -> None:
        response = get(f"/images/logos/badge.png?{query}")
        assert response["statusCode"] == 403
        assert error_of(response) == {
            "code": "signature_required",
            "message": f"without a signature, a URL may name a preset and a format only: {message}",
        }
        assert response["headers"]["Cache-Control"] == "public, max-age=60"

    def test_with_signing_a_signed_url_may_ask_for_anything(
        self, presets_only: Callable[..., None]
    ) -> None:
        presets_only(SIGNING_SECRET=SECRET)
        assert get("/images/logos/badge.png?preset=small")["statusCode"] == 200
        signed = sign_url("/images/logos/badge.png?w=20&q=90", SECRET.encode())
        assert get(signed)["statusCode"] == 200
        forged = get("/images/logos/badge.png?w=20&q=90&s=" + "A" * 43)
        assert (forged["statusCode"], error_of(forged)["code"]) == (403, "invalid_signature")
        no_s = get("/images/logos/badge.png?preset=small&expires=1999999999")
        assert error_of(no_s)["message"] == (
            "this service only answers signed URLs; the s parameter is missing"
        )

    def test_with_none_even_a_preset_needs_a_signature(
        self, s3_handler: Callable[..., None]
    ) -> None:
        s3_handler(PRESETS="small:w=40", UNSIGNED_URLS="none", SIGNING_SECRET=SECRET)
        response = get("/images/logos/badge.png?preset=small")
        assert (response["statusCode"], error_of(response)["code"]) == (403, "invalid_signature")
        presets = {"small": {"w": "40"}}
        signed = sign_url("/images/logos/badge.png?preset=small", SECRET.encode(), presets=presets)
        assert get(signed)["statusCode"] == 200


def test_a_signed_preset_signs_its_name_not_its_parameters() -> None:
    """Known answer: the message is ``a.jpg?preset=card&format=webp&expires=...``, so a signed
    URL keeps working when the operator changes what the preset means."""
    url = sign_url(
        "/images/a.jpg?FORMAT=webp&preset=Card", SECRET.encode(), 1_999_999_999, presets=PRESETS
    )
    query = urlsplit(url).query
    message = "a.jpg?preset=card&format=webp&expires=1999999999"
    digest = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).digest()
    assert (
        query
        == f"{message.partition('?')[2]}&s={base64.urlsafe_b64encode(digest).decode().rstrip('=')}"
    )
    assert (
        verify(SECRET.encode(), "a.jpg", query, now=time.time(), presets=PRESETS) == 1_999_999_999
    )
