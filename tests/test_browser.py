"""End to end in a real browser (Debian's headless Chromium, driven by Playwright) against gunicorn.

Screenshots are written to var/screenshots/ (created by the test)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from servers import Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "var" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("REPOLICY_REQUIRE_BROWSER") == "1":
            raise RuntimeError("Chromium is required (REPOLICY_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui")
    s = Server({"REPOLICY_DATABASE_URL": f"sqlite:///{tmp / 'r.db'}", "REPOLICY_DEV_MODE": "1",
                "REPOLICY_OPEN_EVALUATE": "1", "LOG_DIR": str(tmp), "REPOLICY_LOG_LEVEL": "WARNING"}, workers=1)
    yield s
    s.stop()


def test_reviewer_finds_art_16_2_and_sees_it_highlighted_in_an_evaluation(browser, server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    page.goto(f"{server.url}/ui/instruments/measures-draft")
    assert "/ui/login" in page.url  # pages need a reviewer's token
    page.fill("#token", "dev-legal")
    page.click("#login")
    page.wait_for_url("**/ui/instruments/measures-draft")
    section = page.locator("#art_16__para_2")
    assert "核减下一年度稀土指标" in section.locator(".text").inner_text()
    assert "quota.over-production" in section.locator(".rules").inner_text()
    assert "officials" in page.locator("#art_17 .oos").inner_text() or "不纳入" in page.locator("#art_17 .oos").inner_text()
    section.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "instrument-measures-draft.png"), full_page=False)

    page.goto(f"{server.url}/ui/evaluate")
    page.fill("#request", (ROOT / "examples" / "over-quota.json").read_text(encoding="utf-8"))
    page.click("#run")
    page.wait_for_selector("#summary")
    marked = page.locator('.violation[data-rule="quota.over-production"] mark.cited[data-eid="art_16__para_2"]').first
    assert marked.is_visible()
    assert marked.inner_text() == "稀土集团所属稀土开采企业和稀土冶炼分离企业存在超指标生产等违法违规行为的，核减下一年度稀土指标。"
    assert page.evaluate("getComputedStyle(document.querySelector('mark.cited')).backgroundColor") == "rgb(255, 224, 130)"
    page.screenshot(path=str(SHOTS / "evaluate-over-quota.png"), full_page=True)

    page.click("#switch-lang")  # English beside Chinese
    assert "Rare-earth quota policy service" in page.locator("header").inner_text()
    page.goto(f"{server.url}/ui/coverage/notice-2021")
    assert "Gaps 0" in page.locator("#counts").inner_text() or "缺口 0" in page.locator("#counts").inner_text()
    page.screenshot(path=str(SHOTS / "coverage-notice-2021.png"), full_page=True)
