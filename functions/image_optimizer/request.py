"""Request parsing: an image key and a raw query string -> a key and a canonical `TransformSpec`.

Everything a client sends is checked here, and every refusal is an `InvalidParameter` or
`InvalidKey` whose message names the parameter, the value received and what is allowed. Each
parameter's own rules come from `PARAMETERS`; the rules that relate two of them are below, in
the same order as the CloudFront Function applies its copy of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote_to_bytes

from image_optimizer.errors import InvalidKey, InvalidParameter
from image_optimizer.formats import AVIF, OUTPUT_FORMATS, WEBP
from image_optimizer.parameters import (
    AUTO_FORMAT,
    BY_NAME,
    FACTS_FORMAT,
    NAMES,
    PARAMETERS,
    PRESET,
    Allowed,
    shown,
)
from image_optimizer.spec import TransformSpec

IMAGES_PREFIX = "/images/"
MAX_KEY_BYTES = 1024  # S3's own limit on object keys
MAX_QUERY_CHARS = 2048
_QUALITY = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")  # an Accept q: a plain decimal number
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NO_LIMITS: Mapping[str, Allowed] = MappingProxyType({})
Presets = Mapping[str, Mapping[str, str]]
"""A deployment's presets: name -> its parameters, in canonical form."""
_NO_PRESETS: Presets = MappingProxyType({})


def parse_query(
    raw_query: str,
    accept: str | None,
    max_dimension: int,
    allowed: Mapping[str, Allowed] = _NO_LIMITS,
    extra: tuple[str, ...] = (),
    presets: Presets = _NO_PRESETS,
) -> TransformSpec:
    """Validate the query string (as sent, still percent-encoded) into a spec.

    ``accept`` is the request's Accept header, used only to resolve ``format=auto``;
    ``allowed`` narrows w, h, q or dpr to a set of values (ALLOWED_WIDTHS and friends);
    ``extra`` names parameters accepted besides the transform's (a URL signature's);
    ``presets`` are the deployment's (PRESETS).
    """
    params = split_query(raw_query, extra)
    transform = {name: value for name, value in params.items() if name not in extra}
    canonical = canonical_query(transform, max_dimension, allowed, presets)
    return transform_spec(canonical, accept, presets)


def canonical_query(
    params: Mapping[str, str],
    max_dimension: int,
    allowed: Mapping[str, Allowed] = _NO_LIMITS,
    presets: Presets = _NO_PRESETS,
) -> dict[str, str]:
    """The transform's parameters as the CloudFront Function forwards them (before it settles
    ``format=auto``): each in its canonical form, in the table's order, what changes nothing
    dropped. This is also what a signature is made over. A preset stays a name here; the rules
    between parameters are checked with its parameters in place."""
    canonical: dict[str, str] = {}
    # Checked in the table's order, as the CloudFront Function does, so that a request with
    # several bad values is told about the same one at the edge and here.
    for parameter in PARAMETERS:
        raw = params.get(parameter.name)
        if raw is not None:
            limits = allowed.get(parameter.name)
            canonical[parameter.name] = parameter.canonical(raw, max_dimension, limits)
    effective = _with_preset(canonical, presets)
    if "position" in effective and ("fx" in effective or "fy" in effective):
        raise InvalidParameter(
            "position and fx/fy both say what a crop keeps; give one or the other",
            parameter="position",
        )
    if "dpr" in effective:
        for side in ("w", "h"):
            scaled = _scaled(effective.get(side), effective["dpr"])
            if scaled is not None and scaled > max_dimension:
                raise InvalidParameter(
                    f"dpr {params.get('dpr', effective['dpr'])} makes {side} {scaled}, "
                    f"more than {max_dimension}",
                    parameter="dpr",
                )
    if (
        "fit" in canonical
        and PRESET not in canonical
        and not ("w" in canonical and "h" in canonical)
    ):
        del canonical["fit"]  # with one side, every fit gives the same image
    if PRESET not in canonical:  # with one, dpr=1 says "not the preset's density"
        for name, value in list(canonical.items()):
            if value == BY_NAME[name].neutral:
                del canonical[name]
    return canonical


def transform_spec(
    canonical: Mapping[str, str], accept: str | None, presets: Presets = _NO_PRESETS
) -> TransformSpec:
    """The spec of a `canonical_query`; ``accept`` settles ``format=auto``."""
    canonical = _with_preset(canonical, presets)
    fields: dict[str, Any] = {
        parameter.spec_field: parameter.spec_value(canonical[parameter.name])
        for parameter in PARAMETERS
        if parameter.spec_field is not None and parameter.name in canonical
    }
    density = canonical.get("dpr")
    if density is not None:
        fields["width"] = _scaled(canonical.get("w"), density)
        fields["height"] = _scaled(canonical.get("h"), density)
    fmt = canonical.get("format")
    if fmt == AUTO_FORMAT:
        # The best format the client says it takes; otherwise the source's own rule decides.
        fields["negotiated"] = True
        fields["output_format"] = next(
            (candidate for candidate in (AVIF, WEBP) if accepts(accept, candidate.mime_type)),
            None,
        )
    elif fmt == FACTS_FORMAT:
        fields["facts"] = True
    elif fmt is not None:
        fields["output_format"] = OUTPUT_FORMATS[fmt]
    return TransformSpec(**fields)


def _with_preset(canonical: Mapping[str, str], presets: Presets) -> dict[str, str]:
    """``canonical`` with its preset's parameters in place of the name; the URL's own win."""
    name = canonical.get(PRESET)
    if name is None:
        return dict(canonical)
    if name not in presets:
        known = ", ".join(sorted(presets)) or "none: this deployment has no presets"
        raise InvalidParameter(
            f"preset must be one of {known}, got {shown(name)}", parameter=PRESET
        )
    own = {key: value for key, value in canonical.items() if key != PRESET}
    return {**presets[name], **own}


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
            f"the image key {shown(key)} has an empty, '.' or '..' segment; "
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
        if name.lower() in NAMES:
            name = name.lower()  # as the CloudFront Function reads names: W is w
        grouped.setdefault(name, []).append(raw_value)
    params: dict[str, str] = {}
    for name, raw_values in grouped.items():
        if name not in NAMES and name not in extra:
            raise InvalidParameter(
                f"unknown parameter {shown(name)}; allowed: {', '.join((*NAMES, *extra))}",
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
        raise _invalid(what, f"{what} has invalid percent-encoding: {shown(text)}")
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid(what, f"{what} is not valid UTF-8 once percent-decoded") from None


def _invalid(what: str, message: str) -> InvalidKey | InvalidParameter:
    if what == "the image key":
        return InvalidKey(message)
    return InvalidParameter(message, parameter=what if what in NAMES else None)


def _scaled(side: str | None, density: str) -> int | None:
    """A side in output pixels: a page's CSS pixels times the screen's pixel density."""
    if side is None:
        return None
    return math.floor(int(side) * float(density) + 0.5)  # half up, as people do
