"""Charts for the pages, where a reader would rather look than read: Vega-Lite specs (altair) rendered to SVG
on the server (vl-convert), placed in the page as inline SVG markup.

The SVG vl-convert writes draws with attributes only (no ``<style>``, no ``style=""``, no script), so the
pages' Content-Security-Policy (api.web_security: no inline script or style) holds and nothing is fetched
from elsewhere.  Labels are bilingual, Chinese first.  Every chart is bounded (``MAX_CHARTS`` per kind):
the numbers behind them are in the page's tables and the response.

- :func:`production_charts`: each enterprise's cumulative production by month against its annual quota
  (the sum of its allocations for the year and activity), with the month the quota was crossed marked;
- :func:`group_charts`: per group and year, the allocations to its enterprises against the group's quota;
- :func:`coverage_chart`: an instrument's provisions implemented, out of scope, partly implemented, gaps,
  with an interpretation recorded, and signed off.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any
from collections.abc import Iterable, Mapping

import altair as alt
import vl_convert

from policy.facts import ENUM_LABELS

log = logging.getLogger(__name__)

MAX_CHARTS = 12
WIDTH, HEIGHT = 420, 200
QUOTA_COLOUR, OVER_COLOUR = "#888888", "#c62828"


def _activity(code: str) -> str:
    label = ENUM_LABELS.get(code, {"zh": code, "en": code})
    return f"{label['zh']} / {label['en']}"


def _svg(chart: alt.TopLevelMixin) -> str:
    return vl_convert.vegalite_to_svg(chart.to_json())


def cumulative_by_month(
    production: Iterable[Mapping[str, Any]], allocations: Iterable[Mapping[str, Any]]
) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Per (enterprise, year): one series per activity, each month's cumulative amount, the year's quota and the
    first month the cumulative amount went over it (``crossed``, None if never or no quota)."""
    monthly: dict[tuple[str, int, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for p in production:
        monthly[p["enterprise"], int(p["period"][:4]), p["activity"]][p["period"]] += p["amount_t_reo"]
    quotas: dict[tuple[str, int, str], float] = defaultdict(float)
    for a in allocations:
        quotas[a["enterprise"], int(a["year"]), a["activity"]] += a["amount_t_reo"]
    out: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for (enterprise, year, activity), months in sorted(monthly.items()):
        quota = quotas.get((enterprise, year, activity))
        total, points, crossed = 0.0, [], None
        for month in sorted(months):
            total = round(total + months[month], 6)
            points.append({"month": month, "cumulative_t_reo": total})
            if crossed is None and quota is not None and total > quota:
                crossed = month
        out[enterprise, year].append({"activity": activity, "points": points, "quota_t_reo": quota, "crossed": crossed})
    return dict(out)


def production_charts(facts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One chart per enterprise and year: cumulative production by month against the annual quota."""
    series = cumulative_by_month(facts.get("production") or (), facts.get("allocations") or ())
    charts = []
    for (enterprise, year), lines in list(series.items())[:MAX_CHARTS]:
        rows = [
            {"month": p["month"], "t": p["cumulative_t_reo"], "activity": _activity(s["activity"])}
            for s in lines
            for p in s["points"]
        ]
        quotas = [
            {
                "t": s["quota_t_reo"],
                "activity": _activity(s["activity"]),
                "label": f"年度指标 / annual quota {s['quota_t_reo']:,.0f} t",
            }
            for s in lines
            if s["quota_t_reo"] is not None
        ]
        crossings = [
            {
                "month": s["crossed"],
                "t": next(p["cumulative_t_reo"] for p in s["points"] if p["month"] == s["crossed"]),
                "label": f"{s['crossed']} 超出指标 / over quota",
            }
            for s in lines
            if s["crossed"]
        ]
        x = alt.X("month:O", title="月份 / month")
        y = alt.Y("t:Q", title="累计产量（吨REO）/ cumulative production (t REO)")
        colour = alt.Color("activity:N", title="生产活动 / activity")
        layers = [alt.Chart(alt.Data(values=rows)).mark_line(point=True).encode(x=x, y=y, color=colour)]
        if quotas:
            layers.append(
                alt.Chart(alt.Data(values=quotas)).mark_rule(strokeDash=[6, 4], color=QUOTA_COLOUR).encode(y="t:Q")
            )
            layers.append(
                alt.Chart(alt.Data(values=quotas))
                .mark_text(align="left", dx=4, dy=-6, color=QUOTA_COLOUR)
                .encode(y="t:Q", text="label:N", x=alt.value(0))
            )
        if crossings:
            layers.append(
                alt.Chart(alt.Data(values=crossings))
                .mark_point(size=160, color=OVER_COLOUR, filled=False, strokeWidth=2)
                .encode(x=x, y="t:Q")
            )
            layers.append(
                alt.Chart(alt.Data(values=crossings))
                .mark_text(align="right", dx=-8, dy=-10, color=OVER_COLOUR)
                .encode(x=x, y="t:Q", text="label:N")
            )
        title = f"{enterprise} {year}年累计产量与年度指标 / cumulative production against the annual quota"
        chart = alt.layer(*layers).properties(title=title, width=WIDTH, height=HEIGHT)
        charts.append(
            {
                "id": f"production-{enterprise}-{year}",
                "enterprise": enterprise,
                "year": year,
                "crossed": {s["activity"]: s["crossed"] for s in lines},
                "svg": _svg(chart),
            }
        )
    return charts


def group_charts(facts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One chart per group and year: each activity's allocations (stacked by enterprise) against the group's quota."""
    allocated: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for a in facts.get("allocations") or ():
        if a.get("group"):
            allocated[a["group"], int(a["year"])].append(
                {"activity": _activity(a["activity"]), "enterprise": a["enterprise"], "t": a["amount_t_reo"]}
            )
    quotas: dict[tuple[str, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for q in facts.get("group_quotas") or ():
        quotas[q["group"], int(q["year"])][_activity(q["activity"])] += q["amount_t_reo"]
    charts = []
    for key in sorted(set(allocated) | set(quotas))[:MAX_CHARTS]:
        group, year = key
        x = alt.X("activity:N", title="生产活动 / activity")
        layers = []
        if allocated.get(key):
            layers.append(
                alt.Chart(alt.Data(values=allocated[key]))
                .mark_bar(size=40)
                .encode(
                    x=x,
                    y=alt.Y("sum(t):Q", title="吨REO / t REO"),
                    color=alt.Color("enterprise:N", title="分配给 / allocated to"),
                )
            )
        rows = [{"activity": k, "t": v, "label": f"集团指标 / group quota {v:,.0f}"} for k, v in quotas[key].items()]
        if rows:
            layers.append(
                alt.Chart(alt.Data(values=rows)).mark_tick(size=60, thickness=3, color=OVER_COLOUR).encode(x=x, y="t:Q")
            )
            layers.append(
                alt.Chart(alt.Data(values=rows))
                .mark_text(dy=-8, color=OVER_COLOUR)
                .encode(x=x, y="t:Q", text="label:N")
            )
        title = f"{group} {year}年分解指标与集团指标 / allocations against the group's quota"
        chart = alt.layer(*layers).properties(title=title, width=WIDTH // 2 + 60, height=HEIGHT)
        charts.append({"id": f"group-{group}-{year}", "group": group, "year": year, "svg": _svg(chart)})
    return charts


COVERAGE_BARS = (
    ("implemented", "已实现 / implemented"),
    ("implemented_through_children", "经各款项实现 / through its paragraphs and items"),
    ("partly_implemented", "部分实现 / partly implemented"),
    ("out_of_scope", "不纳入 / out of scope"),
    ("gap", "缺口 / gap"),
    ("interpreted", "已记录解释 / interpretation recorded"),
    ("signed_off", "规则均已审核 / every rule signed off"),
)


def coverage_counts(
    cov: Mapping[str, Any], interpreted: set[str], reviews: Mapping[str, Mapping[str, Any]]
) -> dict[str, int]:
    """Provisions per coverage status, with an interpretation recorded by a rule implementing them, and whose
    implementing rules are all signed off (only rules have a sign-off: parameters and clauses are not counted)."""
    counts = {code: 0 for code, _ in COVERAGE_BARS}
    for c in cov.values():
        counts[c.status] += 1
        rules = [item for item in c.implemented_by if item in reviews]
        if any(item in interpreted for item in c.implemented_by):
            counts["interpreted"] += 1
        if rules and all(reviews[item]["status"] == "approved" for item in rules):
            counts["signed_off"] += 1
    return counts


def coverage_chart(title: str, counts: Mapping[str, int], lang: str = "zh") -> str:
    """The counts as bars.  The statuses are in the page's language only (the Chinese page shows no English status
    words, as its table); the title and axis stay bilingual."""
    rows = [
        {"what": label.split(" / ")[lang == "en"], "n": counts[code], "order": i}
        for i, (code, label) in enumerate(COVERAGE_BARS)
    ]
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            y=alt.Y("what:N", title=None, sort=alt.EncodingSortField("order"), axis=alt.Axis(labelLimit=320)),
            x=alt.X("n:Q", title="条款数 / provisions"),
            color=alt.Color("what:N", legend=None, scale=alt.Scale(scheme="tableau10")),
        )
    )
    text = chart.mark_text(align="left", dx=3, color="black").encode(text="n:Q", color=alt.value("black"))
    return _svg((chart + text).properties(title=f"{title}：覆盖情况 / coverage", width=WIDTH, height=7 * 22))
