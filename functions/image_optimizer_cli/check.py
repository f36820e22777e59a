"""`image-optimizer check URL --key KEY`: the README's promises, tried on a running deployment.

Each check is one promise and one row: held, broken (with what was seen instead), or not
checked (with what it would need). It only reads: the image under ``key`` must exist, and a
key made from it with a suffix is asked for to see a 404. Against a deployment with signed URLs
it signs what it asks for, given the secret, and also checks that an unsigned URL is refused.
"""

from __future__ import annotations

import http.client
import io
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

CHROME_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
WEBP_ONLY_ACCEPT = "image/webp,*/*"


@dataclass(frozen=True, slots=True)
class Outcome:
    promise: str
    held: bool | None  # None: not checked
    detail: str


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def error_code(self) -> str:
        try:
            return str(json.loads(self.body)["error"]["code"])
        except (ValueError, KeyError, TypeError):
            return ""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_: object) -> None:
        return None  # a 3xx is an answer to look at, not to follow


class Deployment:
    """The service at ``base`` (CloudFront, or the local server), asked over HTTP."""

    def __init__(
        self, base: str, key: str, secret: bytes | None = None, timeout: float = 15
    ) -> None:
        self.base = base.rstrip("/")
        self.key = key
        self.secret = secret
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects)

    def image_url(self, query: str, *, key: str | None = None, signed: bool = True) -> str:
        path = f"/images/{quote(key or self.key, safe='/')}"
        url = f"{self.base}{path}?{query}" if query else f"{self.base}{path}"
        if self.secret is not None and signed:
            from image_optimizer.signing import sign_url

            return sign_url(url, self.secret, expires=int(time.time()) + 600)
        return url

    def get(self, url: str, headers: dict[str, str] | None = None) -> Answer:
        request = urllib.request.Request(url, headers=headers or {})
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                return _answer(response.status, response.headers.items(), response.read())
        except urllib.error.HTTPError as error:
            return _answer(error.code, error.headers.items(), error.read())


def _answer(status: int, headers: object, body: bytes) -> Answer:
    return Answer(status, {str(k).lower(): str(v) for k, v in headers}, body)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Size:
    """What the checks ask for: a width (``w=160``), or a preset of the deployment's, whose
    width the check does not know."""

    query: str
    width: int | None

    @classmethod
    def of(cls, width: int, preset: str | None) -> Size:
        return cls(f"preset={preset}", None) if preset else cls(f"w={width}", width)


Verdict = tuple[bool | None, str]  # held (None: not checked), and what was seen
Check = Callable[[Deployment, Size], Verdict]


def first_obstacle(deployment: Deployment, size: Size) -> str | None:
    """What stops every check at once (nothing listening, no such image, URLs that must be
    signed), said once; None when the image is there to be checked."""
    try:
        answer = deployment.get(deployment.image_url(size.query))
    except (OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", None) or error
        return f"no answer from {deployment.base}: {reason}"
    code = answer.error_code()
    if answer.status == 404 and code == "image_not_found":
        return f"{deployment.key!r} is not an image there (404 image_not_found): check --key"
    if answer.status == 403 and code == "invalid_signature" and deployment.secret is None:
        return "this deployment answers signed URLs only: give its secret with --secret-file"
    if answer.status == 403 and code == "signature_required" and deployment.secret is None:
        return "unsigned URLs may only name a preset here: pass --preset NAME, or --secret-file"
    return None


def run_checks(
    deployment: Deployment, size: Size, function_url: str | None = None
) -> Iterator[Outcome]:
    """Every check, in order; a check that cannot reach the service says so in its row."""
    for promise, check in CHECKS:
        try:
            held, detail = check(deployment, size)
        except (OSError, http.client.HTTPException) as error:
            held, detail = False, f"no answer: {error}"
        yield Outcome(promise, held, detail)
    yield Outcome(DIRECT_CALLS, *direct_calls_refused(function_url, deployment.key))


def served(deployment: Deployment, size: Size) -> Verdict:
    answer = deployment.get(deployment.image_url(f"{size.query}&format=webp"))
    if answer.status != 200:
        return (False, _unexpected(answer, "200"))
    kind = answer.headers.get("content-type", "")
    if kind != "image/webp":
        return (False, f"Content-Type {kind!r}, not image/webp")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(answer.body)) as image:
            dimensions, fmt = image.size, image.format
    except OSError:
        return (False, f"{len(answer.body)} bytes that are not an image")
    if fmt != "WEBP" or size.width not in (None, dimensions[0]):
        wanted = f"WebP {size.width} wide" if size.width else "WebP"
        narrower = f"{fmt} {dimensions[0]}x{dimensions[1]}, not {wanted} (a narrower original?"
        return (False, f"{narrower} pass --width)")
    return (True, f"image/webp, {dimensions[0]}x{dimensions[1]}, {len(answer.body)} bytes")


def cached(deployment: Deployment, size: Size) -> Verdict:
    url = deployment.image_url(f"{size.query}&format=webp")
    deployment.get(url)
    seen = deployment.get(url).headers.get("x-cache", "")
    held = "hit" in seen.lower()
    return (held, f"X-Cache: {seen or '(none)'}")


def negotiated(deployment: Deployment, size: Size) -> Verdict:
    url = deployment.image_url(f"{size.query}&format=auto")
    seen = []
    held = True
    for accept, wanted in ((CHROME_ACCEPT, "image/avif"), (WEBP_ONLY_ACCEPT, "image/webp")):
        answer = deployment.get(url, {"Accept": accept})
        kind = answer.headers.get("content-type", "")
        vary = answer.headers.get("vary", "")
        seen.append(f"{kind or answer.status} for {wanted.removeprefix('image/')}")
        if answer.status != 200 or kind != wanted:
            held = False
        if "accept" not in vary.lower():
            held = False
            seen.append(f"Vary: {vary or '(none)'}")
    return (held, ", ".join(seen))


def refuses_bad_parameters(deployment: Deployment, size: Size) -> Verdict:
    # Unsigned: nothing signs a URL the service refuses, and parameters are checked first.
    answer = deployment.get(deployment.image_url("w=abc", signed=False))
    try:
        error = json.loads(answer.body)["error"]
    except (ValueError, KeyError, TypeError):
        error = {}
    held = answer.status == 400 and error.get("parameter") == "w"
    detail = f"{answer.status} {error.get('message') or repr(answer.body[:80])}"
    return (held, detail)


def missing_is_404(deployment: Deployment, size: Size) -> Verdict:
    missing = f"{deployment.key}.{secrets.token_hex(4)}-not-there.jpg"
    answer = deployment.get(deployment.image_url(size.query, key=missing))
    held = answer.status == 404 and answer.error_code() == "image_not_found"
    return (held, f"{answer.status} {answer.error_code()}")


def revalidates(deployment: Deployment, size: Size) -> Verdict:
    url = deployment.image_url(f"{size.query}&format=webp")
    etag = deployment.get(url).headers.get("etag")
    if not etag:
        return (False, "the image came without an ETag")
    answer = deployment.get(url, {"If-None-Match": etag})
    held = answer.status == 304 and not answer.body
    return (held, f"{answer.status} for If-None-Match: {etag}")


def signing(deployment: Deployment, size: Size) -> Verdict:
    if deployment.secret is None:  # first_obstacle has seen that unsigned URLs are served
        return (None, "not checked: signing is off, or give its secret")
    # A width, not a preset: unsigned URLs may name a preset under UNSIGNED_URLS=presets.
    unsigned = deployment.get(deployment.image_url("w=16", signed=False))
    signed = deployment.get(deployment.image_url("w=16"))
    held = unsigned.status == 403 and signed.status == 200
    return (held, f"unsigned {unsigned.status}, signed {signed.status}")


def direct_calls_refused(function_url: str | None, key: str) -> Verdict:
    if not function_url:
        return (None, "not checked: give --function-url (the stack's output)")
    probe = Deployment(function_url, key)
    try:
        answer = probe.get(probe.image_url("w=16"))
    except (OSError, http.client.HTTPException) as error:
        return (False, f"no answer: {error}")
    return (answer.status == 403, f"{answer.status} when called directly")


CHECKS: tuple[tuple[str, Check], ...] = (
    ("an image is served, with its type and size", served),
    ("a second request is a cache hit", cached),
    ("format=auto follows Accept, with Vary: Accept", negotiated),
    ("a bad parameter is a 400 that names it", refuses_bad_parameters),
    ("a missing image is a 404", missing_is_404),
    ("If-None-Match with the ETag is a 304", revalidates),
    ("unsigned URLs are refused, signed ones served", signing),
)
DIRECT_CALLS = "the Function URL refuses calls that bypass CloudFront"


def _unexpected(answer: Answer, wanted: str) -> str:
    code = answer.error_code()
    return f"{answer.status}{' ' + code if code else ''}, not {wanted}"


def table(outcomes: list[Outcome]) -> str:
    marks = {True: "ok  ", False: "FAIL", None: "--  "}
    width = max(len(outcome.promise) for outcome in outcomes)
    rows = (f"{marks[row.held]}  {row.promise:<{width}}  {row.detail}" for row in outcomes)
    return "\n".join(rows)
