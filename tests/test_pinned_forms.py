"""Forms that outlive a release: canonical transforms (inside every cache key), the query the
CloudFront Function forwards (CloudFront's cache key) and URL signatures (inside every issued URL).

Each row was written down from the code as it stood before the parameters moved into one table,
and must never change: a changed canonical form silently empties the caches, a changed signed
message breaks every URL already handed out. The signature is checked against an HMAC computed
here from the documented message, not through the signing module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from edge_runner import CHROME, at_the_edge
from image_optimizer.request import parse_query
from image_optimizer.signing import sign_url

SECRET = b"pinned-forms-secret-0123"
EXPIRES = 1799999999
KEY = "a/b.jpg"

# query as sent, spec.canonical(), forwarded by the edge (Accept: Chrome's), signed query, s
PINNED = [
    (
        "",
        "w=&h=&fit=cover&format=source&q=default",
        "",
        "expires=1799999999",
        "of77nuigoewo_-nTIB5VqAuZLISan1siXCEJoqcjgMk",
    ),
    (
        "w=400",
        "w=400&h=&fit=cover&format=source&q=default",
        "w=400",
        "w=400&expires=1799999999",
        "xPjhpqJ1F86h5w-hb7iMv7XD6cUvWxvmscpKERSRmq4",
    ),
    (
        "h=300",
        "w=&h=300&fit=cover&format=source&q=default",
        "h=300",
        "h=300&expires=1799999999",
        "Ca4NAKIlrCV5u9NOrK20mR7ce5VTsXWjB2ZOi8PWwl0",
    ),
    (
        "w=0400&format=jpg",
        "w=400&h=&fit=cover&format=jpeg&q=80",
        "w=400&format=jpeg",
        "w=400&format=jpeg&expires=1799999999",
        "SFSNUhmVNsI5FB-j-kFS6fHYQC5oLldQDIbaE33_tX4",
    ),
    (
        "format=jpeg&q=080",
        "w=&h=&fit=cover&format=jpeg&q=80",
        "q=80&format=jpeg",
        "q=80&format=jpeg&expires=1799999999",
        "drERlSGw2kyYMzlRo7-yLhChhb0RsU_PIs-r4PSzjlU",
    ),
    (
        "w=4&h=3&fit=contain",
        "w=4&h=3&fit=contain&format=source&q=default",
        "w=4&h=3&fit=contain",
        "w=4&h=3&fit=contain&expires=1799999999",
        "NSMX-BiYVGYO1H7feuv1fFDQ05yW3oUlNpj3HhimKNc",
    ),
    (
        "w=4&h=3&fit=cover",
        "w=4&h=3&fit=cover&format=source&q=default",
        "w=4&h=3&fit=cover",
        "w=4&h=3&fit=cover&expires=1799999999",
        "F9bNMfjR0CpFuHpWO6ak4IWQQNMCYhgwC-3wBT-oTm0",
    ),
    (
        "w=400&fit=fill",
        "w=400&h=&fit=cover&format=source&q=default",
        "w=400",
        "w=400&expires=1799999999",
        "xPjhpqJ1F86h5w-hb7iMv7XD6cUvWxvmscpKERSRmq4",
    ),
    (
        "w=4&h=3&fit=contain&position=bottom-right",
        "w=4&h=3&fit=contain&format=source&q=default&position=bottom-right",
        "w=4&h=3&fit=contain&position=bottom-right",
        "w=4&h=3&fit=contain&position=bottom-right&expires=1799999999",
        "fr6LWqNXbl7nlzkJDV-D2GJy4TM3MhYeiCMicvzQsnY",
    ),
    (
        "w=4&h=3&fit=fill&position=top",
        "w=4&h=3&fit=fill&format=source&q=default",
        "w=4&h=3&fit=fill&position=top",
        "w=4&h=3&fit=fill&position=top&expires=1799999999",
        "FZ_CkvYbDMm5upSCJdUMI20djXc7k7W1WkcgZcMZhyc",
    ),
    (
        "w=4&h=3&position=entropy",
        "w=4&h=3&fit=cover&format=source&q=default&position=entropy",
        "w=4&h=3&position=entropy",
        "w=4&h=3&position=entropy&expires=1799999999",
        "d-rkroTIREA3yhh1jHQ83Gf2v8aHlx3QxxDlC3qDH4U",
    ),
    (
        "w=4&h=3&fit=contain&position=attention",
        "w=4&h=3&fit=contain&format=source&q=default",
        "w=4&h=3&fit=contain&position=attention",
        "w=4&h=3&fit=contain&position=attention&expires=1799999999",
        "EbisKdYgB5KGCuoqkZICAeoKGMYYVQNlssiH8eN70Ww",
    ),
    (
        "w=4&h=3&fx=.5&fy=0.5",
        "w=4&h=3&fit=cover&format=source&q=default",
        "w=4&h=3&fx=0.5&fy=0.5",
        "w=4&h=3&fx=0.5&fy=0.5&expires=1799999999",
        "EyvbdHg4S_Ux_AOYyvAfTOZYRzrR4wSW7inu1rpsNuM",
    ),
    (
        "w=4&h=3&fx=0.125",
        "w=4&h=3&fit=cover&format=source&q=default&fx=0.125&fy=0.5",
        "w=4&h=3&fx=0.125",
        "w=4&h=3&fx=0.125&expires=1799999999",
        "-S96iLG4Y7rNCPRmHms8kWzHsNfgNdOMyaJcIlgtPg0",
    ),
    (
        "w=4&h=3&fy=1.000",
        "w=4&h=3&fit=cover&format=source&q=default&fx=0.5&fy=1",
        "w=4&h=3&fy=1",
        "w=4&h=3&fy=1&expires=1799999999",
        "mTWHBbna9bgLf9A3rEWdRkio7fQ56nIEGbLuspsfO9c",
    ),
    (
        "w=400&fx=0.3",
        "w=400&h=&fit=cover&format=source&q=default",
        "w=400&fx=0.3",
        "w=400&fx=0.3&expires=1799999999",
        "wuaYUSf3yXJYo-LPKGvjokZLzZkODFI5JqaMGyeF0Gg",
    ),
    (
        "w=400&dpr=2.0",
        "w=800&h=&fit=cover&format=source&q=default",
        "w=400&dpr=2",
        "w=400&dpr=2&expires=1799999999",
        "q_nhCDgp1T7rffQHt7pz7kuSM3A9dTEBKx2a2MbiJ4s",
    ),
    (
        "w=333&dpr=1.5&h=100",
        "w=500&h=150&fit=cover&format=source&q=default",
        "w=333&h=100&dpr=1.5",
        "w=333&h=100&dpr=1.5&expires=1799999999",
        "eK866KefdjqiLfuikT20SDUNFu9KQYgHf1Z5BLk6MMc",
    ),
    (
        "dpr=1",
        "w=&h=&fit=cover&format=source&q=default",
        "",
        "expires=1799999999",
        "of77nuigoewo_-nTIB5VqAuZLISan1siXCEJoqcjgMk",
    ),
    (
        "frames=1",
        "w=&h=&fit=cover&format=source&q=default&frames=1",
        "frames=1",
        "frames=1&expires=1799999999",
        "Y__e-0aX5RiD0uksy_cWr9bAOzND8f8C0X9ceZXeGAo",
    ),
    (
        "frames=1&format=jpeg",
        "w=&h=&fit=cover&format=jpeg&q=80",
        "format=jpeg&frames=1",
        "format=jpeg&frames=1&expires=1799999999",
        "Ez7bI2WQDdiL4ekuMdBdtwgbnJFkxLvMjWaM5mlgxM4",
    ),
    (
        "format=webp&frames=1",
        "w=&h=&fit=cover&format=webp&q=80&frames=1",
        "format=webp&frames=1",
        "format=webp&frames=1&expires=1799999999",
        "xvMEP7PcEzVEKHQCZGQb-CwU4PRvfORjr5h6372L8Ww",
    ),
    (
        "format=png&q=10",
        "w=&h=&fit=cover&format=png&q=default",
        "q=10&format=png",
        "q=10&format=png&expires=1799999999",
        "J19D1uV3Wf5ciBhCPxg6feEkwsVfjefhVOp_WcyjWMY",
    ),
    (
        "format=gif",
        "w=&h=&fit=cover&format=gif&q=default",
        "format=gif",
        "format=gif&expires=1799999999",
        "nPRO4fCXOr8bs9dpSAIGwNarc_MemyVgi5L6hRHxErk",
    ),
    (
        "format=avif&q=50",
        "w=&h=&fit=cover&format=avif&q=50",
        "q=50&format=avif",
        "q=50&format=avif&expires=1799999999",
        "TVh5-mgDSQcWObVd2oXw_kucniTXhUATtOC8D9m-MFU",
    ),
    (
        "format=auto&w=200",
        "w=200&h=&fit=cover&format=avif&q=50",
        "w=200&format=avif",
        "w=200&format=auto&expires=1799999999",
        "-64HJ_NBU_JvJILXnF2PI3V9EddiPxG-2LlO2A8A2H0",
    ),
    (
        "q=100&w=1&h=1&fit=outside",
        "w=1&h=1&fit=outside&format=source&q=100",
        "w=1&h=1&q=100&fit=outside",
        "w=1&h=1&q=100&fit=outside&expires=1799999999",
        "1Y4zwxsJ50ZajCy9Df-IXAJ8ZTQQ-DyD8PE33Fjy4i4",
    ),
    (
        "w=4096&h=4096&fit=inside&format=webp&q=0",
        "w=4096&h=4096&fit=inside&format=webp&q=0",
        "w=4096&h=4096&q=0&format=webp&fit=inside",
        "w=4096&h=4096&q=0&format=webp&fit=inside&expires=1799999999",
        "u_ozlzqXuRgZkAjsKw_CdfWMZV_6QyeNv2iTywaFbGs",
    ),
    (
        "w=4&h=3&fit=cover&position=top-left&format=webp&q=75&frames=1",
        "w=4&h=3&fit=cover&format=webp&q=75&position=top-left&frames=1",
        "w=4&h=3&q=75&format=webp&fit=cover&position=top-left&frames=1",
        "w=4&h=3&q=75&format=webp&fit=cover&position=top-left&frames=1&expires=1799999999",
        "OkjmY1NY8jZ5SKUHLvvagTCk3OsJ_6VXwdegGMSbNZg",
    ),
    (
        "h=300&position=left",
        "w=&h=300&fit=cover&format=source&q=default",
        "h=300&position=left",
        "h=300&position=left&expires=1799999999",
        "LoIYfPjeTkcPWoR20o8CxeWiXa2_L9Yb5t0xEOQBtGQ",
    ),
    (
        "fx=1&fy=0&dpr=3",
        "w=&h=&fit=cover&format=source&q=default",
        "fx=1&fy=0&dpr=3",
        "fx=1&fy=0&dpr=3&expires=1799999999",
        "Td744DKodsW5fcjtEXAstu8iq7SjJXVWqYu_acFua90",
    ),
]


@pytest.mark.parametrize(("query", "canonical", "forwarded", "signed", "s"), PINNED)
def test_the_canonical_transform_is_as_it_was(
    query: str, canonical: str, forwarded: str, signed: str, s: str
) -> None:
    assert parse_query(query, CHROME, 4096).canonical() == canonical


def test_the_edge_forwards_what_it_forwarded() -> None:
    queries = [row[0] for row in PINNED]
    assert at_the_edge(queries, CHROME) == [{"query": row[2]} for row in PINNED]


@pytest.mark.parametrize(("query", "canonical", "forwarded", "signed", "s"), PINNED)
def test_signatures_are_as_they_were(
    query: str, canonical: str, forwarded: str, signed: str, s: str
) -> None:
    url = f"/images/{KEY}?{query}" if query else f"/images/{KEY}"
    assert sign_url(url, SECRET, EXPIRES) == f"/images/{KEY}?{signed}&s={s}"
    digest = hmac.new(SECRET, f"{KEY}?{signed}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == s
