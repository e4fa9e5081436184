"""End to end in a real browser (Debian's headless Chromium, driven by Playwright) against gunicorn.

Screenshots are written to var/screenshots/ (created by the test), or to the folder named by
SCREENSHOTS_DIR: `SCREENSHOTS_DIR=docs/screenshots bin/test tests/test_browser.py` refreshes the ones
the documentation shows."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import ROOT, smelter_2500
from servers import Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or ROOT / "var" / "screenshots")


def shot(name: str) -> str:
    """Where the screenshot ``name`` goes (the folder made on first use)."""
    return str(SHOTS / name)


def shots_kept(*names: str) -> bool:
    """Whether each screenshot was written and holds an image (more than a blank page's few hundred bytes)."""
    return all((SHOTS / name).stat().st_size > 1000 for name in names)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("REPOLICY_REQUIRE_BROWSER") == "1":
            raise RuntimeError("Chromium is required (REPOLICY_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


def ui_server(tmp: Path) -> Server:
    """``repolicy-serve`` for the pages, on a registry of its own in ``tmp``: development tokens, evaluation
    open, one worker. Stop it after use."""
    return Server(
        {
            "REPOLICY_DATABASE_URL": f"sqlite:///{tmp / 'r.db'}",
            "REPOLICY_DEV_MODE": "1",
            "REPOLICY_OPEN_EVALUATE": "1",
            "LOG_DIR": str(tmp),
            "REPOLICY_LOG_LEVEL": "WARNING",
        },
        workers=1,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui")
    s = ui_server(tmp)
    yield s
    s.stop()


def test_reviewer_finds_art_16_2_and_sees_it_highlighted_in_an_evaluation(browser, server):
    page = browser.new_page()
    page.goto(f"{server.url}/ui/instruments/measures-draft")
    assert "/ui/login" in page.url  # pages need a reviewer's token
    page.fill("#token", "dev-legal")
    page.click("#login")
    page.wait_for_url("**/ui/instruments/measures-draft")
    section = page.locator("#art_16__para_2")
    assert "核减下一年度稀土指标" in section.locator(".text").inner_text()
    assert "quota.over-production" in section.locator(".rules").inner_text()
    assert (
        "officials" in page.locator("#art_17 .oos").inner_text()
        or "不纳入" in page.locator("#art_17 .oos").inner_text()
    )
    section.scroll_into_view_if_needed()
    page.screenshot(path=shot("instrument-measures-draft.png"), full_page=False)

    page.goto(f"{server.url}/ui/evaluate")
    page.fill("#request", (ROOT / "examples" / "over-quota-draft.json").read_text(encoding="utf-8"))  # pins the draft
    page.click("#run")
    page.wait_for_selector("#summary")
    marked = page.locator('.violation[data-rule="quota.over-production"] mark.cited[data-eid="art_16__para_2"]').first
    assert marked.is_visible()
    assert (
        marked.inner_text()
        == "稀土集团所属稀土开采企业和稀土冶炼分离企业存在超指标生产等违法违规行为的，核减下一年度稀土指标。"
    )
    assert (
        page.evaluate("getComputedStyle(document.querySelector('mark.cited')).backgroundColor") == "rgb(255, 224, 130)"
    )
    why = page.locator('.violation[data-rule="quota.over-production"] .why').first.inner_text()
    assert "年度指标合计的数量（吨REO）（5,000）小于年度产量合计的数量（吨REO）（5,320）" in why  # the values compared
    page.screenshot(path=shot("evaluate-over-quota.png"), full_page=True)

    page.click("#switch-lang")  # English beside Chinese
    assert "Rare-earth quota policy service" in page.locator("header").inner_text()
    page.goto(f"{server.url}/ui/coverage/notice-2021")
    counts = page.locator("#counts").inner_text()
    assert "gap 0" in counts or "缺口 0" in counts
    page.screenshot(path=shot("coverage-notice-2021.png"), full_page=True)


def test_reviewer_signs_off_a_rule_and_sees_it_unreviewed_after_a_change(browser, server):
    page = browser.new_page()
    rule_url = f"{server.url}/ui/rules/notice@2021/eligibility.smelter-ineligible"
    page.goto(rule_url)
    page.fill("#token", "dev-legal")
    page.click("#login")
    page.wait_for_url("**/ui/rules/**")
    assert "冶炼分离产能下限" in page.locator("#plain").inner_text()  # the condition in plain Chinese
    assert page.locator("#scenarios-fire li").count() >= 1 and page.locator("#scenarios-hold li").count() >= 1
    assert page.locator("#review-status").inner_text() == "未审核"
    page.fill("#approve-comment", "与第三条第二项一致 / matches para 3 item 2")
    page.click("#approve")
    page.wait_for_selector("#approvals")
    assert page.locator("#review-status").inner_text() == "已审核"
    assert "legal" in page.locator("#approvals").inner_text()
    page.screenshot(path=shot("rule-signed-off.png"), full_page=True)

    # a regulator publishes a version raising the capacity floor (the regulators' worked example)
    notice = (ROOT / "rulesets" / "notice" / "2021.yaml").read_text(encoding="utf-8")
    floor = notice.replace('version: "2021"', 'version: "2021-floor3000"').replace(
        "    value: 2000\n    unit: t_reo_per_year", "    value: 3000\n    unit: t_reo_per_year"
    )
    status, _ = server.request("POST", "/v1/rulesets", floor.encode(), {"Authorization": "Bearer dev-regulator"})
    assert status == 201

    page.goto(f"{server.url}/ui/diff?old=notice@2021&new=notice@2021-floor3000&lang=en")
    assert "Parameter changed: capacity_floor_t_reo 2000 -> 3000" in page.locator("#changes").inner_text()
    assert page.locator("#changed-rules a").all_inner_texts() == ["eligibility.smelter-ineligible"]
    assert "+    value: 3000" in page.locator("#yaml-diff ins").all_inner_texts()
    page.screenshot(path=shot("diff-notice-2021-floor3000.png"), full_page=True)
    page.click("#changed-rules a")
    page.wait_for_url("**/ui/rules/notice@2021-floor3000/eligibility.smelter-ineligible**")
    assert page.locator("#review-status").inner_text() == "changed since approval: unreviewed"

    page.goto(f"{server.url}/ui/coverage/notice-2021?lang=en")
    counts = page.locator("#review-counts").inner_text()
    assert "approved 1" in counts and "changed since approval: unreviewed 1" in counts


def test_reviewer_uploads_facts_and_sees_what_was_left_undecided(browser, server, tmp_path):
    import json

    request = {
        "as_of": "2021-12-31",
        "rulesets": ["notice@2021"],
        "facts": {
            "groups": [{"id": "G1", "designated": True}],
            "enterprises": [{"id": "E1", "group": "G1", "activities": ["mining"], "safety_license": True}],
            "allocations": [
                {"enterprise": "E1", "group": "G1", "year": 2021, "activity": "mining", "amount_t_reo": 100}
            ],
        },
    }
    upload = tmp_path / "mine.json"
    upload.write_text(json.dumps(request), encoding="utf-8")
    page = browser.new_page()
    page.goto(f"{server.url}/ui/evaluate?lang=en")
    page.set_input_files("#file", str(upload))
    page.click("#run")
    page.wait_for_selector("#summary")
    assert "Violations: 0" in page.locator("#summary").inner_text().replace("：", ": ")
    item = page.locator('li[data-rule="eligibility.mine-ineligible"]')
    assert "facts.enterprises[0].mining_license" in item.inner_text()
    page.screenshot(path=shot("evaluate-unknowns.png"), full_page=True)


def test_regulator_changes_a_parameter_on_the_rule_page_through_sign_off_to_activation(browser, tmp_path_factory):
    """A regulator raises the capacity floor on the rule's page; the draft's page shows the change in words, the
    scenarios run on it and the impact on the recorded decisions; a legal reviewer signs the rule off; the
    regulator activates it."""
    tmp = tmp_path_factory.mktemp("edit")
    server = ui_server(tmp)
    try:
        request = smelter_2500(designated=True)
        assert server.request("POST", "/v1/evaluate", request)[1]["violations"] == []  # recorded: compliant at 2,000 t

        regulator = browser.new_context().new_page()
        regulator.goto(f"{server.url}/ui/rules/notice@2021/eligibility.smelter-ineligible")
        regulator.fill("#token", "dev-regulator")
        regulator.click("#login")
        regulator.wait_for_url("**/ui/rules/**")
        assert regulator.input_value("#param-capacity_floor_t_reo") == "2000"
        regulator.fill("#param-capacity_floor_t_reo", "3000")
        regulator.fill("#edit-version", "2021-floor3000")
        regulator.fill("#edit-comment", "产能下限提高到3000吨 / floor raised to 3,000 t")
        regulator.locator("#edit-form").screenshot(path=shot("rule-parameter-form.png"))
        regulator.click("#edit-submit")
        regulator.wait_for_url("**/ui/drafts/notice@2021-floor3000**")
        assert "参数变更：capacity_floor_t_reo 2000 → 3000" in regulator.locator("#changes").inner_text()
        assert "2000吨" in regulator.locator("#stale-texts").inner_text()  # texts that still say 2,000 t
        assert "未通过 0" in regulator.locator("#scenario-counts").inner_text()  # 3,000 t changes no library scenario
        for _ in range(60):  # the impact job runs in the background: reload until it is done
            if regulator.locator("#impact-counts").count():
                break
            regulator.wait_for_timeout(500)
            regulator.reload()
        assert "结论改变 1" in regulator.locator("#impact-counts").inner_text()
        regulator.click("#activate")  # too early: the changed rule awaits a legal reviewer
        refusal = regulator.locator("#activation-error").inner_text()
        assert "尚待法律审核" in refusal and "eligibility.smelter-ineligible" in refusal
        regulator.screenshot(path=shot("draft-awaiting-sign-off.png"), full_page=True)
        # the impact preview again, on as many recorded decisions as asked: a wrong number is refused, saying why
        assert regulator.input_value("#impact-limit") == "200"
        regulator.fill("#impact-limit", "-5")
        regulator.click("#impact-start")
        assert "-5" in regulator.locator("#impact-limit-error").inner_text()
        regulator.fill("#impact-limit", "1")
        regulator.locator("#impact-form").screenshot(path=shot("draft-impact-form.png"))
        regulator.click("#impact-start")
        regulator.wait_for_url("**/ui/drafts/notice@2021-floor3000**job=**")
        for _ in range(60):
            if regulator.locator("#impact-counts").count():
                break
            regulator.wait_for_timeout(500)
            regulator.reload()
        assert "已审查决定 1" in regulator.locator("#impact-counts").inner_text()

        legal = browser.new_context().new_page()
        legal.goto(f"{server.url}/ui/rules/notice@2021-floor3000/eligibility.smelter-ineligible")
        legal.fill("#token", "dev-legal")
        legal.click("#login")
        legal.wait_for_url("**/ui/rules/**")
        assert legal.locator("#edit-form").count() == 0  # only a regulator changes parameters
        legal.fill("#approve-comment", "3,000 t as para 3(2) now reads")
        legal.click("#approve")
        legal.wait_for_selector("#approvals")

        regulator.goto(f"{server.url}/ui/drafts/notice@2021-floor3000?base=notice@2021")
        assert regulator.locator("#draft-rules").inner_text().count("已审核") == 1
        regulator.fill("#activate-comment", "in force")
        regulator.click("#activate")
        regulator.wait_for_selector("#draft-status")
        assert regulator.locator("#draft-status").inner_text() == "已启用"
        assert regulator.locator("#draft-status").get_attribute("data-status") == "active"
        regulator.screenshot(path=shot("draft-activated.png"), full_page=True)
        found = server.request("POST", "/v1/evaluate", request)[1]["violations"]
        assert [(v["ruleset"], v["rule"]) for v in found] == [
            ("notice@2021-floor3000", "eligibility.smelter-ineligible")
        ]
        assert shots_kept(
            "draft-activated.png", "draft-awaiting-sign-off.png", "draft-impact-form.png", "rule-parameter-form.png"
        )
    finally:
        server.stop()


def test_charts_are_drawn_inline_within_the_content_security_policy(browser, server):
    """The evaluate page draws each enterprise's cumulative production against its quota (the month it crossed
    marked) and each group's allocations against its quota; the coverage page its counts.  The browser reports
    no CSP violation."""
    page = browser.new_context().new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{server.url}/ui/evaluate")
    page.fill("#request", (ROOT / "examples" / "over-quota.json").read_text(encoding="utf-8"))
    page.click("#run")
    page.wait_for_selector("#charts")
    production = page.locator("#chart-production-E1-2021 svg")
    assert production.is_visible() and production.bounding_box()["width"] > 300
    assert "2021-11 超出指标 / over quota" in production.inner_html()
    production.screenshot(path=shot("chart-production-E1-2021.png"))
    page.locator("#chart-group-G1-2021 svg").screenshot(path=shot("chart-group-G1-2021.png"))
    page.goto(f"{server.url}/ui/coverage/notice-2021")
    if "/ui/login" in page.url:
        page.fill("#token", "dev-legal")
        page.click("#login")
        page.wait_for_url("**/ui/coverage/**")
    chart = page.locator("#coverage-chart svg")
    assert chart.is_visible() and ">缺口</text>" in chart.inner_html()
    chart.screenshot(path=shot("chart-coverage-notice-2021.png"))
    assert refused == []
    assert shots_kept("chart-production-E1-2021.png", "chart-group-G1-2021.png", "chart-coverage-notice-2021.png")
