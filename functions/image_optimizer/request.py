"""Request parsing: an image key and a raw query string -> a key and a canonical `TransformSpec`.

Everything a client sends is checked here, and every refusal is an `InvalidParameter` or
`InvalidKey` whose message names the parameter, the value received and what is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from urllib.parse import unquote_to_bytes

from image_optimizer.errors import InvalidKey, InvalidParameter
from image_optimizer.formats import AVIF, OUTPUT_FORMATS, WEBP, OutputFormat
from image_optimizer.spec import Fit, Position, TransformSpec

IMAGES_PREFIX = "/images/"
PARAMETERS = ("w", "h", "q", "format", "fit", "position", "fx", "fy", "dpr", "frames")
MAX_KEY_BYTES = 1024  # S3's own limit on object keys
MAX_QUERY_CHARS = 2048
_AUTO = "auto"
_FORMAT_CHOICES = (*OUTPUT_FORMATS, _AUTO)
_DIGITS = re.compile(r"[0-9]{1,9}")
_FRACTION = re.compile(r"[01]|[01]?\.[0-9]{1,3}")  # fx, fy: 0 to 1, at most three decimals
_DENSITY = re.compile(r"[1-4](\.[0-9])?")  # dpr: 1 to 4, at most one decimal
_QUALITY = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")  # an Accept q: a plain decimal number
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SHOWN_VALUE_CHARS = 40


def parse_query(
    raw_query: str,
    accept: str | None,
    max_dimension: int,
    allowed: Mapping[str, frozenset[float]] = MappingProxyType({}),
    extra: tuple[str, ...] = (),
) -> TransformSpec:
    """Validate the query string (as sent, still percent-encoded) into a spec.

    ``accept`` is the request's Accept header, used only to resolve ``format=auto``;
    ``allowed`` narrows w, h, q or dpr to a set of values (ALLOWED_WIDTHS and friends);
    ``extra`` names parameters accepted besides the transform's (a URL signature's).
    """
    params = split_query(raw_query, extra)
    # Checked in the order of PARAMETERS, as the CloudFront Function does, so that a request
    # with several bad values is told about the same one at the edge and here.
    width = _integer(params, "w", 1, max_dimension, allowed.get("w"))
    height = _integer(params, "h", 1, max_dimension, allowed.get("h"))
    quality = _integer(params, "q", 0, 100, allowed.get("q"))
    output_format, negotiated = _output_format(params.get("format"), accept)
    fit = _choice(params.get("fit"), "fit", Fit.COVER)
    position = _choice(params.get("position"), "position", Position.CENTER)
    fx, fy = _fraction(params, "fx"), _fraction(params, "fy")
    density = _density(params.get("dpr"), allowed.get("dpr"))
    still = _frames(params.get("frames"))
    focus = None
    if fx is not None or fy is not None:
        if "position" in params:
            raise InvalidParameter(
                "position and fx/fy both say what a crop keeps; give one or the other",
                parameter="position",
            )
        focus = (0.5 if fx is None else fx, 0.5 if fy is None else fy)
    sides = {"w": _scaled(width, density), "h": _scaled(height, density)}
    for name, side in sides.items():
        if side is not None and side > max_dimension:
            raise InvalidParameter(
                f"dpr {params['dpr']} makes {name} {side}, more than {max_dimension}",
                parameter="dpr",
            )
    return TransformSpec(
        sides["w"],
        sides["h"],
        fit,
        output_format,
        quality,
        negotiated,
        position,
        focus,
        still,
    )


def parse_key(raw_key: str, *, percent_encoded: bool) -> str:
    """The object key from the path after ``/images/``.

    Function URLs pass the path still percent-encoded; API Gateway HTTP APIs pass it decoded.
    """
    key = _percent_decode(raw_key, "the image key") if percent_encoded else raw_key
    if not key:
        raise InvalidKey("the image key is empty: use /images/<key>")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidKey(f"the image key is longer than {MAX_KEY_BYTES} bytes")
    if _CONTROL.search(key):
        raise InvalidKey("the image key contains control characters")
    segments = key.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise InvalidKey(
            f"the image key {_shown(key)} has an empty, '.' or '..' segment; "
            "keys are plain paths such as landscapes/main.jpg"
        )
    return key


def accepts(accept: str | None, mime_type: str) -> bool:
    """Whether an Accept header names ``mime_type`` explicitly with a non-zero q. A q that is
    not a plain decimal number (``inf``, ``0.5abc``) names nothing, here as at the edge."""
    for item in (accept or "").split(","):
        media_type, *options = (part.strip() for part in item.split(";"))
        if media_type.lower() != mime_type:
            continue
        for option in options:
            name, _, value = option.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                return bool(_QUALITY.fullmatch(value)) and float(value) > 0
        return True
    return False


def split_query(raw_query: str, extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Name -> decoded value; unknown, repeated and empty parameters are refused."""
    if len(raw_query) > MAX_QUERY_CHARS:
        raise InvalidParameter(f"the query string is longer than {MAX_QUERY_CHARS} characters")
    # Grouped by name first, in order of first appearance (as CloudFront hands a query to its
    # functions), so that both places name the same parameter when several are wrong.
    grouped: dict[str, list[str]] = {}
    for pair in raw_query.split("&"):
        if not pair:
            continue  # "?w=1&" and "?&w=1" are harmless
        raw_name, _, raw_value = pair.partition("=")
        name = _percent_decode(raw_name.replace("+", " "), "a parameter name")
        grouped.setdefault(name, []).append(raw_value)
    params: dict[str, str] = {}
    for name, raw_values in grouped.items():
        if name not in PARAMETERS and name not in extra:
            raise InvalidParameter(
                f"unknown parameter {_shown(name)}; allowed: {', '.join((*PARAMETERS, *extra))}",
                parameter=name,
            )
        if len(raw_values) > 1:
            raise InvalidParameter(f"{name} is given more than once", parameter=name)
        value = _percent_decode(raw_values[0].replace("+", " "), name)
        if not value:
            raise InvalidParameter(
                f"{name} is empty; give it a value or leave it out", parameter=name
            )
        params[name] = value
    return params


def _percent_decode(text: str, what: str) -> str:
    if _BAD_ESCAPE.search(text):
        raise _invalid(what, f"{what} has invalid percent-encoding: {_shown(text)}")
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid(what, f"{what} is not valid UTF-8 once percent-decoded") from None


def _invalid(what: str, message: str) -> InvalidKey | InvalidParameter:
    if what == "the image key":
        return InvalidKey(message)
    return InvalidParameter(message, parameter=what if what in PARAMETERS else None)


def _integer(
    params: dict[str, str], name: str, low: int, high: int, allowed: frozenset[float] | None
) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    valid = _DIGITS.fullmatch(raw) is not None
    if allowed:
        _check_listed(name, raw, valid, allowed)
    elif not valid or not low <= int(raw) <= high:
        raise InvalidParameter(
            f"{name} must be an integer from {low} to {high}, got {_shown(raw)}", parameter=name
        )
    return int(raw)


def _fraction(params: dict[str, str], name: str) -> float | None:
    raw = params.get(name)
    if raw is None:
        return None
    if _FRACTION.fullmatch(raw) is None or float(raw) > 1:
        raise InvalidParameter(
            f"{name} must be a number from 0 to 1 (at most 3 decimals), got {_shown(raw)}",
            parameter=name,
        )
    return float(raw)


def _density(raw: str | None, allowed: frozenset[float] | None) -> float:
    if raw is None:
        return 1.0
    valid = _DENSITY.fullmatch(raw) is not None
    if allowed:
        _check_listed("dpr", raw, valid, allowed)
    elif not valid or float(raw) > 4:
        raise InvalidParameter(
            f"dpr must be a number from 1 to 4 (at most 1 decimal), got {_shown(raw)}",
            parameter="dpr",
        )
    return float(raw)


def _check_listed(name: str, raw: str, valid: bool, allowed: frozenset[float]) -> None:
    """Refuse ``raw`` unless it is well formed (``valid``) and one of the ``allowed`` values."""
    if not valid or float(raw) not in allowed:
        listed = ", ".join(f"{value:g}" for value in sorted(allowed))  # 2, 1.5: as the edge writes
        raise InvalidParameter(f"{name} must be one of {listed}, got {_shown(raw)}", parameter=name)


def _frames(raw: str | None) -> bool:
    if raw is None:
        return False
    if raw != "1":
        raise InvalidParameter(
            f"frames must be 1 (a still of the first frame), got {_shown(raw)}", parameter="frames"
        )
    return True


def _scaled(side: int | None, density: float) -> int | None:
    """A side in output pixels: a page's CSS pixels times the screen's pixel density."""
    return None if side is None else math.floor(side * density + 0.5)  # half up, as people do


def _choice[Choice: StrEnum](raw: str | None, name: str, default: Choice) -> Choice:
    """One of the values of ``default``'s enumeration, or ``default`` when not given."""
    if raw is None:
        return default
    choices = type(default)
    try:
        return choices(raw)
    except ValueError:
        allowed = ", ".join(choice.value for choice in choices)
        raise InvalidParameter(
            f"{name} must be one of {allowed}, got {_shown(raw)}", parameter=name
        ) from None


def _output_format(raw: str | None, accept: str | None) -> tuple[OutputFormat | None, bool]:
    if raw is None:
        return None, False
    if raw == _AUTO:
        # The best format the client says it takes; otherwise the source's own rule decides.
        for candidate in (AVIF, WEBP):
            if accepts(accept, candidate.mime_type):
                return candidate, True
        return None, True
    if raw not in OUTPUT_FORMATS:
        raise InvalidParameter(
            f"format must be one of {', '.join(_FORMAT_CHOICES)}, got {_shown(raw)}",
            parameter="format",
        )
    return OUTPUT_FORMATS[raw], False


def _shown(value: str) -> str:
    """A value quoted for a message, cut short so that a huge value cannot bloat the answer."""
    if len(value) > _SHOWN_VALUE_CHARS:
        return repr(value[:_SHOWN_VALUE_CHARS] + "...")
    return repr(value)
