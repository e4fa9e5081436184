"""``reads_facts_from``: a ruleset reads the earlier facts of a year straddling its entry into force, and judges
no more than without it.

A small ruleset of the 2025 Measures' instrument (in force from 2025-07-28) with three rules: one on each
month's production, one on the year's production summed, one on dated sales.  The oracle is the calendar:
a month is judged when it ends on or after 28 July 2025, a sale when its date is; the year's sum counts every
month of the year only when the ruleset reads from 1 January.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.runtime import Runtime
from policy.loader import RulesetInvalid
from policy.registry import Registry
from rules_helpers import ruleset_from

START = dt.date(2025, 7, 28)

HEADER = """\
ruleset: straddle
version: "1"
instrument: measures-2025
title: {zh: 测试, en: test}
effective: {from: "2025-07-28", to: null}
"""

BODY = """\
derived:
  year_totals:
    from: production
    group_by: [enterprise, year]
    sum: {amount_t_reo: amount_t_reo}
rules:
  - id: month.produced
    title: {zh: 月产量, en: a month's production}
    severity: minor
    when:
      - fact: production
        as: p
        where: p.amount_t_reo > 0
    subject: {type: enterprise, id: p.enterprise}
    period: p.period
    message: {zh: 产量, en: production}
    citations: [{instrument: measures-2025, eid: art_7__para_1}]
  - id: year.over
    title: {zh: 年产量超过100吨, en: over 100 t in a year}
    severity: minor
    when:
      - fact: year_totals
        as: t
        where: t.amount_t_reo > 100
    subject: {type: enterprise, id: t.enterprise}
    period: t.year
    details:
      total: t.amount_t_reo
    message: {zh: 超过, en: over}
    citations: [{instrument: measures-2025, eid: art_7__para_1}]
  - id: sale.made
    title: {zh: 销售, en: a sale}
    severity: minor
    when:
      - fact: transactions
        as: s
        where: s.type == 'sale'
    subject: {type: enterprise, id: s.enterprise}
    period: s.date
    message: {zh: 销售, en: sale}
    citations: [{instrument: measures-2025, eid: art_7__para_1}]
"""


def _runtime(instruments, reads_from: str | None) -> Runtime:
    header = HEADER + (f'reads_facts_from: "{reads_from}"\n' if reads_from else "")
    return Runtime(instruments, Registry([ruleset_from(BODY, instruments, header=header)]))


@pytest.fixture(scope="module")
def widened(instruments):
    return _runtime(instruments, "2025-01-01")


@pytest.fixture(scope="module")
def plain(instruments):
    return _runtime(instruments, None)


def _month_end(month: int) -> dt.date:
    return dt.date(2025, month + 1, 1) - dt.timedelta(days=1) if month < 12 else dt.date(2025, 12, 31)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    monthly=st.dictionaries(st.integers(1, 12), st.integers(1, 80), max_size=8),
    sale_days=st.lists(st.integers(0, 364), max_size=4, unique=True),
)
def test_earlier_facts_count_in_sums_but_are_not_judged(widened, plain, monthly, sale_days):
    facts = {
        "enterprises": [{"id": "E1"}],
        "production": [
            {"enterprise": "E1", "period": f"2025-{m:02d}", "activity": "mining", "amount_t_reo": a}
            for m, a in sorted(monthly.items())
        ],
        "transactions": [
            {"enterprise": "E1", "type": "sale", "date": (dt.date(2025, 1, 1) + dt.timedelta(days=d)).isoformat()}
            for d in sale_days
        ],
    }
    judged_months = {f"2025-{m:02d}" for m in monthly if _month_end(m) >= START}
    judged_sales = {
        (dt.date(2025, 1, 1) + dt.timedelta(days=d)).isoformat()
        for d in sale_days
        if dt.date(2025, 1, 1) + dt.timedelta(days=d) >= START
    }
    whole_year = sum(monthly.values())
    from_july = sum(a for m, a in monthly.items() if _month_end(m) >= START)
    for runtime, total in ((widened, whole_year), (plain, from_july)):
        found = runtime.evaluate(facts, dt.date(2026, 1, 31), ["straddle@1"])["violations"]
        by_rule: dict[str, set] = {}
        for v in found:
            by_rule.setdefault(v["rule"], set()).add(v["period"])
        assert by_rule.get("month.produced", set()) == judged_months
        assert by_rule.get("sale.made", set()) == judged_sales
        totals = [v["details"]["total"] for v in found if v["rule"] == "year.over"]
        assert totals == ([total] if total > 100 else [])


@pytest.mark.parametrize(
    "extra, message",
    [
        ('reads_facts_from: "2025-08-01"\n', "on or before `effective.from`"),
        ('reads_facts_from: "2025-13-01"\n', "must be a date"),
    ],
)
def test_reads_facts_from_only_widens_backwards(instruments, extra, message):
    with pytest.raises(RulesetInvalid) as exc:
        ruleset_from(BODY, instruments, header=HEADER + extra)
    [issue] = exc.value.issues
    assert message in issue.message and issue.line == HEADER.count("\n") + 1


def test_reads_facts_from_needs_a_start(instruments):
    header = (
        HEADER.replace('{from: "2025-07-28", to: null}', "{from: null, to: null}") + 'reads_facts_from: "2025-01-01"\n'
    )
    with pytest.raises(RulesetInvalid) as exc:
        ruleset_from(BODY, instruments, header=header)
    assert any("reads_facts_from" in i.message for i in exc.value.issues)
