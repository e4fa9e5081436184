"""The Regulation's own duties and the 2025 Measures beside it, checked against oracles written from the
texts (Regulation Arts. 10(2), 21, 23; Measures Art. 7(1)), on generated facts.

The oracles share nothing with the rules but the facts: a quota year's production counts cumulatively
from January, a month's production counts at the month's end, and the excess of an act counts only
production from the day its rule entered into force (2024-10-01 for the Regulation, 2025-07-28 for the
Measures, which judge a duty they repeat from then on).  Fine ranges follow the gains of each act.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.runtime import Runtime
from policy.instruments import INSTRUMENTS_DIR
from policy.registry import RULESETS_DIR

PINS = ["regulation@2024", "measures@2025"]


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return Runtime.from_directories(RULESETS_DIR, INSTRUMENTS_DIR)


def violations(runtime: Runtime, facts: dict, as_of: str, pins=PINS) -> list[dict]:
    return runtime.evaluate(facts, dt.date.fromisoformat(as_of), pins)["violations"]


def _mine(monthly: dict[int, float], quota: float, year: int = 2025) -> dict:
    return {
        "enterprises": [{"id": "E1", "activities": ["mining"], "designated": True, "mining_license": True}],
        "allocations": [{"enterprise": "E1", "year": year, "activity": "mining", "amount_t_reo": quota}],
        "production": [
            {"enterprise": "E1", "period": f"{year}-{m:02d}", "activity": "mining", "amount_t_reo": a}
            for m, a in sorted(monthly.items())
        ],
    }


def quota_year(test):
    """Generate a year's monthly production (month -> t) and its quota, for the straddling-year oracles."""
    return settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])(
        given(
            monthly=st.dictionaries(st.integers(1, 12), st.sampled_from([0, 10, 35, 60, 150]), max_size=6),
            quota=st.sampled_from([0, 50, 100, 200]),
        )(test)
    )


def _excess(runtime: Runtime, facts: dict, as_of: str) -> dict[str, float]:
    return {
        v["ruleset"]: v["details"]["excess_t_reo"]
        for v in violations(runtime, facts, as_of)
        if v["rule"] == "quota.over-production"
    }


@quota_year
def test_the_2024_quota_year_straddling_the_regulation(runtime, monthly, quota):
    """Production before 2024-10-01 counts towards the 2024 quota; the excess counts production from then."""
    before = sum(a for m, a in monthly.items() if m <= 9)
    after = sum(a for m, a in monthly.items() if m >= 10)
    expected = {"regulation@2024": min(after, before + after - quota)} if before + after > quota and after > 0 else {}
    assert _excess(runtime, _mine(monthly, quota, 2024), "2025-01-31") == expected


@quota_year
def test_the_regulation_judges_the_2025_excess_up_to_june(runtime, monthly, quota):
    """Regulation Art. 10(2) judges the cumulative excess at month-ends before 2025-07-28 (January to June)."""
    before = sum(a for m, a in monthly.items() if m <= 6)
    expected = min(before, before - quota) if before > quota else None
    assert _excess(runtime, _mine(monthly, quota), "2026-01-31").get("regulation@2024") == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    monthly=st.dictionaries(st.integers(7, 12), st.sampled_from([0, 10, 35, 60, 150]), max_size=6),
    quota=st.sampled_from([0, 50, 100, 200]),
)
def test_the_measures_judge_production_from_july_2025(runtime, monthly, quota):
    """Measures Art. 7(1) for a year whose production all falls after 2025-07-28."""
    total = sum(monthly.values())
    expected = {"measures@2025": total - quota} if total > quota else {}
    assert _excess(runtime, _mine(monthly, quota), "2026-01-31") == expected


def test_production_before_the_measures_counts_towards_the_2025_quota(runtime):
    """60 t in March and 60 t in August against 100 t: Art. 7(1) is breached by 20 t from August."""
    assert _excess(runtime, _mine({3: 60, 8: 60}, 100), "2025-12-31") == {"measures@2025": 20}


@quota_year
def test_the_2025_quota_year_straddling_the_measures(runtime, monthly, quota):
    """Measures Art. 7(1): January to June count towards the 2025 quota; the excess counts July onwards."""
    before = sum(a for m, a in monthly.items() if m <= 6)
    after = sum(a for m, a in monthly.items() if m >= 7)
    expected = min(after, before + after - quota) if before + after > quota and after > 0 else None
    assert _excess(runtime, _mine(monthly, quota), "2026-01-31").get("measures@2025") == expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    months=st.lists(st.integers(1, 12), min_size=1, max_size=5, unique=True),
    designated=st.sampled_from([True, False, None]),
)
def test_months_before_the_measures_are_read_but_not_judged(runtime, months, designated):
    """Facts of January to June 2025 are read for the annual sum, never judged by the Measures themselves:
    production without quota, late or missing reports and flow data of those months find nothing under them."""
    enterprise = {
        "id": "E1",
        "activities": ["mining"],
        "flow_records": True,
        "flow_records_truthful": True,
        "national_traceability_entry": True,
        "data_security_system": True,
    }
    if designated is not None:
        enterprise["designated"] = designated
    facts = {
        "enterprises": [enterprise],
        "production": [
            {"enterprise": "E1", "period": f"2025-{m:02d}", "activity": "mining", "amount_t_reo": 10} for m in months
        ],
        "reports": [
            {"reporter": "E1", "level": "enterprise", "period": f"2025-{m:02d}", "submitted_on": None} for m in months
        ]
        + [
            {
                "reporter": "E1",
                "level": "enterprise",
                "period": f"2025-{m:02d}",
                "recipient": "province",
                "submitted_on": f"2025-{m:02d}-28",
            }
            for m in months
        ],
        "flow_entries": [
            {
                "enterprise": "E1",
                "period": f"2025-{m:02d}",
                "entered_on": f"2025-{m + 1:02d}-25" if m < 12 else "2026-01-25",
            }
            for m in months
        ],
    }
    months_judged = {v["period"] for v in violations(runtime, facts, "2026-03-31", ["measures@2025"])}
    # a finding's period is its year or its month; only months from July 2025 (the month of 28 July) may appear
    assert all(p == "2025" or p >= "2025-07" for p in months_judged)
    if all(m <= 6 for m in months):
        assert months_judged == set()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    gains=st.lists(
        st.one_of(st.none(), st.sampled_from([0, 1, 499_999, 500_000, 600_000, 3_000_000])), min_size=1, max_size=4
    ),
    enterprise_gains=st.one_of(st.none(), st.integers(0, 10_000_000)),
)
def test_each_illegal_product_deal_is_fined_on_its_own_gains(runtime, gains, enterprise_gains):
    """Regulation Art. 23: 5-10 times the gains of the act, or 500,000-2,000,000 yuan without or under 500,000."""
    enterprise = {"id": "E1", "activities": ["smelting_separation"]}
    if enterprise_gains is not None:
        enterprise["illegal_gains_yuan"] = enterprise_gains  # not the gains of any act: never read
    deals = []
    for month, g in enumerate(gains, start=1):
        deal = {"enterprise": "E1", "date": f"2025-{month:02d}-15", "type": "sale", "source_legal": False}
        if g is not None:
            deal["illegal_gains_yuan"] = g
        deals.append(deal)
    found = {
        v["period"]: v["details"]
        for v in violations(
            runtime, {"enterprises": [enterprise], "transactions": deals}, "2025-06-30", ["regulation@2024"]
        )
    }
    assert set(found) == {f"2025-{m:02d}-15" for m in range(1, len(gains) + 1)}  # one finding per deal
    for month, g in enumerate(gains, start=1):
        d = found[f"2025-{month:02d}-15"]
        if g is None:
            assert "fine_min_yuan" not in d and "illegal_gains_yuan" not in d
        else:
            low, high = (5 * g, 10 * g) if g >= 500_000 else (500_000, 2_000_000)
            assert (d["fine_min_yuan"], d["fine_max_yuan"]) == (low, high)


def test_a_duty_the_measures_repeat_gives_one_finding_citing_both(runtime):
    """From 2025-07-28 one act is judged once, by the Measures' rule, which cites the Regulation too."""
    facts = {
        "enterprises": [
            {
                "id": "E1",
                "activities": ["smelting_separation"],
                "designated": True,
                "flow_records": False,
                "obstructed_inspection": True,
            }
        ]
    }
    before = violations(runtime, facts, "2025-06-30")
    after = violations(runtime, facts, "2025-09-30")
    assert sorted((v["ruleset"], v["rule"]) for v in before) == [
        ("regulation@2024", "inspection.obstructed"),
        ("regulation@2024", "traceability.flow-records"),
    ]
    assert sorted((v["ruleset"], v["rule"]) for v in after) == [
        ("measures@2025", "inspection.obstructed"),
        ("measures@2025", "traceability.no-flow-records"),
    ]
    for v in after:
        assert {c["instrument"] for c in v["citations"]} == {"measures-2025", "regulation-2024"}


def test_nothing_is_judged_before_the_regulation(runtime):
    facts = {
        "enterprises": [
            {
                "id": "E1",
                "activities": ["comprehensive_utilization"],
                "flow_records": False,
                "emissions_compliant": False,
                "obstructed_inspection": True,
            }
        ]
    }
    assert violations(runtime, facts, "2024-06-01") == []
    assert {v["rule"] for v in violations(runtime, facts, "2024-10-01")} == {
        "traceability.flow-records",
        "environment.non-compliant",
        "inspection.obstructed",
    }


def test_a_non_designated_smelter_is_not_given_the_production_enterprise_s_role(runtime):
    """Measures Art. 8 binds production enterprises: no `responsible` role is attached to a 7(3) finding."""
    facts = {
        "enterprises": [{"id": "E9", "activities": ["smelting_separation"], "designated": False}],
        "production": [{"enterprise": "E9", "period": "2025-09", "activity": "smelting_separation", "amount_t_reo": 5}],
    }
    [v] = violations(runtime, facts, "2025-12-31", ["measures@2025"])
    assert v["rule"] == "eligibility.smelting-by-non-designated" and not v.get("responsible")
