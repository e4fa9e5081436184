"""What the peer engines in the benchmark get precomputed in Python, and nothing more.

None of the peers (zen, business-rules, regopy) can group and sum facts the way the
rules need (sums per enterprise/year/activity), and none knows China's holiday calendar,
so these two things are computed here, exactly as ``bare-durable`` in ``evaluate.py``
computes them: sums over the whole request, due dates with ``chinese_calendar.is_workday``
once per distinct month in the request (cache per evaluation, not across evaluations).
Everything else, the comparisons, the joins and the filters, is left to each engine.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import chinese_calendar

OVER = "quota.over-production"
NO_QUOTA = "quota.production-without-quota"
SMELTER = "eligibility.smelter-ineligible"
LATE = "reporting.group-monthly-late"
MISSING = "reporting.group-monthly-missing"
# Para 7 of the 2021 notice binds only reports due after the notice's date.
NOTICE_DATE = dt.date(2021, 8, 24)
CAPACITY_FLOOR_T = 2000
ONE_DAY = dt.timedelta(days=1)

Facts = dict[str, list[dict[str, Any]]]
Violation = tuple[str, str, str]  # (rule, subject, period)


def year_sums(facts: Facts) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Production totals as rows, and quota totals by the same ``enterprise|year|activity`` key.

    Rows are ``{"k", "e", "y", "v"}`` (key, enterprise, year as text, total); both sums are
    rounded to 6 decimals as every implementation in the benchmark does before comparing.
    """
    produced: dict[str, float] = {}
    owner: dict[str, tuple[str, str]] = {}
    for p in facts.get("production", ()):
        year = p["period"][:4]
        k = f"{p['enterprise']}|{year}|{p['activity']}"
        produced[k] = produced.get(k, 0) + p["amount_t_reo"]
        owner[k] = (p["enterprise"], year)
    quota: dict[str, float] = {}
    for a in facts.get("allocations", ()):
        k = f"{a['enterprise']}|{a['year']}|{a['activity']}"
        quota[k] = quota.get(k, 0) + a["amount_t_reo"]
    rows = [{"k": k, "e": owner[k][0], "y": owner[k][1], "v": round(v, 6)} for k, v in produced.items()]
    return rows, {k: round(v, 6) for k, v in quota.items()}


def monthly_due(year: int, month: int, cache: dict[tuple[int, int], dt.date]) -> dt.date:
    """The 10th of the next month, postponed over Chinese holidays and weekends (cached per call)."""
    due = cache.get((year, month))
    if due is None:
        y, m = (year + 1, 1) if month == 12 else (year, month + 1)
        due = dt.date(y, m, 10)
        while not chinese_calendar.is_workday(due):
            due += ONE_DAY
        cache[(year, month)] = due
    return due


def group_report_dues(facts: Facts) -> dict[str, dt.date]:
    """Due date of every 2021 monthly period a group report is filed for, by period text.

    The same reports ``bare-durable`` computes a due date for: group level, a ``YYYY-MM``
    period of 2021, a ``submitted_on`` key present (absent means unknown: neither late nor missing).
    """
    cache: dict[tuple[int, int], dt.date] = {}
    dues: dict[str, dt.date] = {}
    for r in facts.get("reports", ()):
        period = r["period"]
        if (
            r["level"] == "group"
            and len(period) == 7
            and period.startswith("2021")
            and "submitted_on" in r
            and period not in dues
        ):
            dues[period] = monthly_due(int(period[:4]), int(period[5:]), cache)
    return dues


def peer_input(facts: Facts, as_of: dt.date) -> dict[str, Any]:
    """What a peer engine is given: the raw fact lists plus the Python-computed sums and due dates."""
    totals, quota = year_sums(facts)
    dues = group_report_dues(facts)
    return {
        "totals": totals,
        "quota": quota,
        "enterprises": facts.get("enterprises", []),
        "allocations": facts.get("allocations", []),
        "reports": facts.get("reports", []),
        "due": {period: due.isoformat() for period, due in dues.items()},
        "today": as_of.isoformat(),
    }
