"""Charts on the pages (api/charts.py): the numbers drawn, and SVG the pages' CSP lets through."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from api.charts import COVERAGE_BARS, coverage_chart, cumulative_by_month, group_charts, production_charts
from helpers import ROOT, TOKENS, log_in

months = st.dictionaries(st.integers(1, 12), st.integers(0, 500), min_size=1, max_size=12)


@settings(max_examples=80, deadline=None)
@given(monthly=months, quota=st.none() | st.integers(0, 3000))
def test_the_crossing_month_is_the_first_whose_total_to_date_is_over_the_quota(monthly, quota):
    production = [
        {"enterprise": "E1", "period": f"2021-{m:02d}", "activity": "mining", "amount_t_reo": a}
        for m, a in monthly.items()
    ]
    allocations = (
        [] if quota is None else [{"enterprise": "E1", "year": 2021, "activity": "mining", "amount_t_reo": quota}]
    )
    [series] = cumulative_by_month(production, allocations)[("E1", 2021)]
    to_date = {m: sum(a for n, a in monthly.items() if n <= m) for m in monthly}
    assert [(p["month"], p["cumulative_t_reo"]) for p in series["points"]] == [
        (f"2021-{m:02d}", to_date[m]) for m in sorted(monthly)
    ]
    over = [m for m in sorted(monthly) if quota is not None and to_date[m] > quota]
    assert series["crossed"] == (f"2021-{over[0]:02d}" if over else None)


def _csp_clean(svg: str) -> bool:
    """No inline script, style element or style attribute (the pages' CSP would block them)."""
    return svg.startswith("<svg") and not re.search(r"<script|<style|\sstyle=|\son[a-z]+=", svg)


def test_charts_show_the_quota_the_crossing_and_bilingual_labels():
    facts = json.loads((ROOT / "examples" / "over-quota.json").read_text(encoding="utf-8"))["facts"]
    [chart] = production_charts(facts)
    assert chart["crossed"] == {"mining": "2021-11"} and _csp_clean(chart["svg"])
    assert "2021-11 超出指标 / over quota" in chart["svg"]
    assert "累计产量（吨REO）/ cumulative production (t REO)" in chart["svg"]
    [group] = group_charts(facts)
    assert group["group"] == "G1" and _csp_clean(group["svg"]) and "分解指标与集团指标" in group["svg"]


def test_text_from_the_request_is_escaped_in_the_svg():
    evil = "<img src=x onerror=alert(1)>"
    facts = {
        "production": [{"enterprise": evil, "period": "2021-01", "activity": "mining", "amount_t_reo": 5}],
        "allocations": [{"enterprise": evil, "group": evil, "year": 2021, "activity": "mining", "amount_t_reo": 1}],
    }
    for chart in production_charts(facts) + group_charts(facts):
        assert "<img" not in chart["svg"] and "&lt;img" in chart["svg"]


def test_the_coverage_chart_has_a_bar_per_count():
    counts = {code: i + 1 for i, (code, _) in enumerate(COVERAGE_BARS)}
    for lang, shown in (("zh", 0), ("en", 1)):
        svg = coverage_chart("通知", counts, lang)
        assert _csp_clean(svg)
        for _, label in COVERAGE_BARS:
            assert f">{label.split(' / ')[shown]}</text>" in svg and label.split(" / ")[1 - shown] not in svg


def test_the_pages_carry_the_charts(app):
    client = app.test_client()
    log_in(client, next(tok for tok, r in TOKENS.items() if r == "legal"))
    page = client.get("/ui/coverage/notice-2021").get_data(as_text=True)
    assert 'id="coverage-chart"><svg' in page and ">已记录解释</text>" in page
    form = client.get("/ui/evaluate").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    body = (ROOT / "examples" / "over-quota.json").read_text(encoding="utf-8")
    page = client.post("/ui/evaluate", data={"request": body, "csrf_token": csrf}).get_data(as_text=True)
    assert 'id="chart-production-E1-2021"><svg' in page and 'id="chart-group-G1-2021"><svg' in page
