"""The playground in a real headless Chromium (Debian's), driven by Playwright.

Load the page, change the width and the format, see the new image arrive with the expected
natural size and the byte counts update; a screenshot goes to test-artifacts/.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright

from conftest import ROOT, get
from image_optimizer.parameters import NAMES
from image_optimizer_cli.samples import ORBIT_FRAMES
from local_server import start_server

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCE_", "REDIS_", "MAX_"))}
    env["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg"))
    process, url = start_server(env=env)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (make test installs it)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, base: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 1400})
    opened = context.new_page()
    opened.goto(base + "/")
    expect(opened.locator("body")).to_have_attribute("data-state", "ready", timeout=30_000)
    yield opened
    context.close()


def natural_width(page: Page, selector: str) -> int:
    width: int = page.eval_on_selector(selector, "img => img.naturalWidth")
    return width


def test_the_page_lists_the_images_and_shows_a_first_result(page: Page) -> None:
    options = page.locator("#image option").all_inner_texts()
    assert "landscapes/main.jpg" in options
    assert natural_width(page, "#result") == 400
    expect(page.locator("#result-caption")).to_contain_text("400x")
    expect(page.locator("#original-caption")).to_contain_text("KB")
    expect(page.locator("#headers")).to_contain_text("image/webp")


def test_changing_width_and_format_loads_the_new_image(page: Page) -> None:
    before = page.locator("#result-caption").inner_text()
    page.select_option("#image", "landscapes/main.jpg")
    page.fill("#w", "320")
    page.select_option("#format", "avif")
    page.wait_for_function(
        "document.querySelector('#result').dataset.url?.includes('w=320&format=avif')"
        " && document.body.dataset.state === 'ready'",
        timeout=30_000,
    )
    assert natural_width(page, "#result") == 320
    caption = page.locator("#result-caption").inner_text()
    assert caption != before
    assert "320x213" in caption
    assert "% vs original" in caption
    assert "image/avif" in page.locator("#headers").inner_text()
    assert "w=320&format=avif" in page.input_value("#url")
    widths = [natural_width(page, f"#grid img[data-format={f}]") for f in ("jpeg", "webp", "avif")]
    assert widths == [320, 320, 320]
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / "playground.png"), full_page=True)


def result_for(page: Page, fragment: str) -> None:
    page.wait_for_function(
        f"document.querySelector('#result').dataset.url?.includes({fragment!r})"
        " && document.body.dataset.state === 'ready'",
        timeout=30_000,
    )


def test_position_focal_point_and_density_reach_the_service(page: Page, base: str) -> None:
    page.fill("#h", "200")
    page.fill("#w", "200")
    page.select_option("#position", "attention")
    result_for(page, "w=200&h=200&format=webp&position=attention")
    assert natural_width(page, "#result") == 200
    page.select_option("#position", "")
    page.fill("#fx", "0.25")
    page.fill("#dpr", "2")
    result_for(page, "format=webp&fx=0.25&dpr=2")
    assert natural_width(page, "#result") == 400  # w=200 at twice the density
    page.select_option("#position", "top")  # and a focal point: the service says which to drop
    expect(page.locator("#error")).to_contain_text("position and fx/fy both say what a crop keeps")


def test_the_samples_watermark_is_a_choice_and_is_drawn(page: Page) -> None:
    page.fill("#w", "300")
    result_for(page, "w=300")
    plain = page.eval_on_selector("#result", "img => img.src")
    page.check("#watermark")  # the sample deployment's one watermark: a box to tick
    result_for(page, "w=300&format=webp&watermark=badge")
    assert page.eval_on_selector("#result", "img => img.src") != plain
    expect(page.locator("#error")).to_be_empty()


def test_format_json_shows_the_facts_and_their_placeholder(page: Page) -> None:
    page.select_option("#format", "json")
    result_for(page, "format=json")
    expect(page.locator("#result-caption")).to_contain_text('"width":2400,"height":1600')
    assert page.eval_on_selector("#result", "img => img.src").startswith("data:image/webp")
    assert natural_width(page, "#result") == 16


def test_an_animation_stays_animated_unless_a_still_is_asked(page: Page, base: str) -> None:
    page.select_option("#image", "stickers/orbit.gif")
    page.fill("#w", "160")
    result_for(page, "stickers/orbit.gif?w=160&format=webp")
    url = page.eval_on_selector("#result", "img => img.dataset.url")
    with urllib.request.urlopen(base + url) as response:
        assert Image.open(io.BytesIO(response.read())).n_frames == ORBIT_FRAMES
    page.check("#frames")
    result_for(page, "w=160&format=webp&frames=1")
    url = page.eval_on_selector("#result", "img => img.dataset.url")
    with urllib.request.urlopen(base + url) as response:
        assert getattr(Image.open(io.BytesIO(response.read())), "n_frames", 1) == 1


def test_every_control_has_a_label_and_the_keyboard_reaches_it(page: Page) -> None:
    for control in ("image", *NAMES):  # one for each parameter of the table
        assert page.locator(f"label[for={control}]").count() == 1, control
        assert page.locator(f"#{control}").count() == 1, control
    page.focus("#image")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == NAMES[0]  # the table's first


def test_a_bad_width_shows_the_services_message(page: Page) -> None:
    page.fill("#w", "5000")
    expect(page.locator("#error")).to_contain_text("w must be an integer from 1 to 4096")


def test_on_a_phone_the_page_fits_the_screen(browser: Browser, base: str) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    phone = context.new_page()
    phone.goto(base + "/")
    expect(phone.locator("body")).to_have_attribute("data-state", "ready", timeout=30_000)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()


def test_the_playground_routes_are_the_local_servers_only(
    base: str, configure: Callable[..., None], samples_dir: Path
) -> None:
    with urllib.request.urlopen(base + "/playground/images") as response:
        assert "landscapes/main.jpg" in json.loads(response.read())["images"]
    configure(SOURCE_DIR=str(samples_dir))
    for target in ("/", "/playground/images"):
        assert get(target)["statusCode"] == 404  # the Lambda has no playground
