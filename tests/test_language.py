"""Each feature of the condition language, evaluated by durable_rules and by the reference.

Every case asserts the exact subjects found, and ``both`` asserts that the
engine and the independent plain-Python reference agree.
"""

from __future__ import annotations

import datetime as dt
import json
import textwrap

import pytest

from rules_helpers import both, ruleset_from


def rule(rid: str, when: list[dict], subject: str, unless: list[dict] | None = None, extra: str = "") -> str:
    body = {
        "id": rid,
        "title": {"zh": "测", "en": "t"},
        "message": {"zh": "{subject}", "en": "{subject}"},
        "severity": "minor",
        "subject": {"type": "enterprise", "id": subject},
        "citations": [{"instrument": "notice-2021", "eid": "para_1"}],
        "when": when,
    }
    if unless:
        body["unless"] = unless
    return "  - " + json.dumps(body, ensure_ascii=False) + "\n" + extra


PARAMS = """
parameters:
  floor:
    value: 2000
    label: {zh: 下限, en: floor}
    citations: [{instrument: notice-2021, eid: para_3__item_2}]
"""

ENTERPRISES = [
    {"id": "A", "separation_capacity_t_reo": 1999, "designated": True, "activities": ["smelting_separation"]},
    {"id": "B", "separation_capacity_t_reo": 2000, "designated": False, "activities": ["mining"]},
    {"id": "C", "designated": True},  # capacity unknown
]


def subjects(body: str, facts: dict, instruments, header_extra: str = "", as_of=dt.date(2021, 12, 31)):
    rs = ruleset_from(header_extra + "rules:\n" + body, instruments)
    return [s for _, s in both(rs, facts, as_of)]


def test_compare_with_constant_and_unknown_is_not_false(instruments):
    body = rule("r", [{"fact": "enterprises", "as": "e", "where": "e.separation_capacity_t_reo < 2000"}], "e.id")
    assert subjects(body, {"enterprises": ENTERPRISES}, instruments) == ["A"]


def test_compare_with_parameter_boundary(instruments):
    body = rule(
        "r", [{"fact": "enterprises", "as": "e", "where": "e.separation_capacity_t_reo <= params.floor"}], "e.id"
    )
    assert subjects(body, {"enterprises": ENTERPRISES}, instruments, PARAMS) == ["A", "B"]


def test_and_or_not_and_booleans(instruments):
    body = rule(
        "r",
        [
            {
                "fact": "enterprises",
                "as": "e",
                "where": "not e.designated or (e.designated and e.separation_capacity_t_reo < 1000 + 1000)",
            }
        ],
        "e.id",
    )
    # C: designated but capacity unknown -> the condition reads an unknown field -> no match
    assert subjects(body, {"enterprises": ENTERPRISES}, instruments) == ["A", "B"]


def test_membership_in_list_field_and_in_list(instruments):
    body = rule("r", [{"fact": "enterprises", "as": "e", "where": "'mining' in e.activities"}], "e.id")
    assert subjects(body, {"enterprises": ENTERPRISES}, instruments) == ["B"]
    body = rule("r", [{"fact": "enterprises", "as": "e", "where": "e.id in ['A', 'C']"}], "e.id")
    assert subjects(body, {"enterprises": ENTERPRISES}, instruments) == ["A", "C"]


FACTS = {
    "enterprises": [{"id": "A"}, {"id": "B"}, {"id": "C"}],
    "allocations": [
        {"enterprise": "A", "year": 2021, "activity": "mining", "amount_t_reo": 100},
        {"enterprise": "A", "year": 2021, "activity": "mining", "amount_t_reo": 50},
        {"enterprise": "B", "year": 2021, "activity": "mining", "amount_t_reo": 300},
    ],
    "production": [
        {"enterprise": "A", "period": "2021-01", "activity": "mining", "amount_t_reo": 100},
        {"enterprise": "A", "period": "2021-02", "activity": "mining", "amount_t_reo": 60},
        {"enterprise": "B", "period": "2021-01", "activity": "mining", "amount_t_reo": 300},
        {"enterprise": "C", "period": "2021-01", "activity": "mining", "amount_t_reo": 1},
    ],
}

DERIVED = """
derived:
  produced:
    from: production
    group_by: [enterprise, year, activity]
    sum: {amount_t_reo: amount_t_reo}
    count: months
  quota:
    from: allocations
    group_by: [enterprise, year, activity]
    sum: {amount_t_reo: amount_t_reo}
"""


def test_join_with_derived_sums_and_arithmetic(instruments):
    body = rule(
        "over",
        [
            {"fact": "produced", "as": "p"},
            {
                "fact": "quota",
                "as": "q",
                "where": "q.enterprise == p.enterprise and q.year == p.year and q.amount_t_reo < p.amount_t_reo",
            },
        ],
        "p.enterprise",
    )
    # A: 160 produced vs 150 quota (two allocations summed); B: exactly at quota -> no violation
    assert subjects(body, FACTS, instruments, DERIVED) == ["A"]
    body = rule(
        "margin",
        [
            {"fact": "produced", "as": "p"},
            {
                "fact": "quota",
                "as": "q",
                "where": "q.enterprise == p.enterprise and q.amount_t_reo < p.amount_t_reo - 5 * 2",
            },
        ],
        "p.enterprise",
    )
    assert subjects(body, FACTS, instruments, DERIVED) == []


def test_counts(instruments):
    body = rule("two-months", [{"fact": "produced", "as": "p", "where": "p.months >= 2"}], "p.enterprise")
    assert subjects(body, FACTS, instruments, DERIVED) == ["A"]


def test_absence_of_a_matching_fact(instruments):
    body = rule(
        "no-quota",
        [{"fact": "produced", "as": "p"}],
        "p.enterprise",
        unless=[{"fact": "allocations", "as": "a", "where": "a.enterprise == p.enterprise and a.year == p.year"}],
    )
    assert subjects(body, FACTS, instruments, DERIVED) == ["C"]


def test_dates_literals_and_as_of(instruments):
    facts = {
        "enterprises": [{"id": "A"}, {"id": "B"}],
        "allocations": [
            {
                "enterprise": "A",
                "year": 2021,
                "activity": "mining",
                "amount_t_reo": 1,
                "issued_on": "2021-09-01",
                "filed_on": "2021-09-20",
            },
            {
                "enterprise": "B",
                "year": 2021,
                "activity": "mining",
                "amount_t_reo": 1,
                "issued_on": "2021-09-01",
                "filed_on": None,
            },
        ],
    }
    body = rule(
        "slow",
        [
            {
                "fact": "allocations",
                "as": "a",
                "where": "a.filed_on - a.issued_on > 14 and a.filed_on >= date('2021-09-02')",
            }
        ],
        "a.enterprise",
    )
    assert subjects(body, facts, instruments) == ["A"]
    body = rule(
        "unfiled",
        [{"fact": "allocations", "as": "a", "where": "not a.filed and a.issued_on + 30 < as_of"}],
        "a.enterprise",
    )
    assert subjects(body, facts, instruments) == ["B"]
    assert subjects(body, facts, instruments, as_of=dt.date(2021, 9, 15)) == []


def test_computed_working_day_deadline(instruments):
    computed = """
computed:
  - list: allocations
    as: a
    field: split_due
    value: add_working_days(a.issued_on, 10)
"""
    facts = {
        "enterprises": [{"id": "A"}, {"id": "B"}],
        "allocations": [
            # issued Fri 2021-09-17: 10 working days, counting Sat 18 Sep (adjusted working day)
            # and skipping the Mid-Autumn and National Day holidays -> due 2021-10-08
            {
                "enterprise": "A",
                "year": 2021,
                "activity": "mining",
                "amount_t_reo": 1,
                "issued_on": "2021-09-17",
                "filed_on": "2021-10-08",
            },
            {
                "enterprise": "B",
                "year": 2021,
                "activity": "mining",
                "amount_t_reo": 1,
                "issued_on": "2021-09-17",
                "filed_on": "2021-10-11",
            },
        ],
    }
    body = rule("late-split", [{"fact": "allocations", "as": "a", "where": "a.filed_on > a.split_due"}], "a.enterprise")
    assert subjects(body, facts, instruments, computed) == ["B"]


def test_join_of_three_facts_and_strings(instruments):
    facts = {
        "groups": [{"id": "G1", "designated": False}, {"id": "G2", "designated": True}],
        "enterprises": [{"id": "A", "group": "G1"}, {"id": "B", "group": "G2"}],
        "production": [
            {"enterprise": "A", "period": "2021-01", "activity": "mining", "amount_t_reo": 1},
            {"enterprise": "B", "period": "2021-01", "activity": "mining", "amount_t_reo": 1},
        ],
    }
    body = rule(
        "non-designated-group",
        [
            {"fact": "production", "as": "p"},
            {"fact": "enterprises", "as": "e", "where": "e.id == p.enterprise"},
            {"fact": "groups", "as": "g", "where": "g.id == e.group and g.designated == false"},
        ],
        "e.id",
    )
    assert subjects(body, facts, instruments) == ["A"]


def test_negated_parameter_and_constant_arithmetic(instruments):
    params = (
        PARAMS
        + """  minus:
    value: 1999
    label: {zh: 负, en: minus}
    citations: [{instrument: notice-2021, eid: para_1}]
"""
    )
    body = rule(
        "r", [{"fact": "enterprises", "as": "e", "where": "e.separation_capacity_t_reo + -params.minus <= 0"}], "e.id"
    )
    assert subjects(body, {"enterprises": ENTERPRISES}, instruments, params) == ["A"]


@pytest.mark.parametrize(
    "where",
    [
        "e.separation_capacity_t_reo / 2 > 10",
        "e.separation_capacity_t_reo > -(e.separation_capacity_t_reo / 2)",  # under a minus sign
        "e.designated or not (e.separation_capacity_t_reo * 2 / 3 > 10)",  # under or and not
    ],
)
def test_division_is_refused_in_conditions(instruments, where):
    from policy.loader import RulesetInvalid

    body = rule("r", [{"fact": "enterprises", "as": "e", "where": where}], "e.id")
    with pytest.raises(RulesetInvalid, match="division"):
        ruleset_from("rules:\n" + body, instruments)


def test_undated_facts_are_not_judged_by_a_bounded_ruleset(instruments):
    header = "effective: {from: '2021-01-01', to: '2021-12-31'}\n"
    body = rule("r", [{"fact": "transactions", "as": "t", "where": "t.type == 'toll_processing'"}], "t.enterprise")
    facts = {
        "enterprises": [{"id": "A"}, {"id": "B"}],
        "transactions": [
            {"enterprise": "A", "type": "toll_processing", "date": "2021-05-01"},
            {"enterprise": "B", "type": "toll_processing"},
        ],
    }
    assert subjects(body, facts, instruments, header) == ["A"]


def test_or_holds_when_a_known_branch_holds_three_valued_logic(instruments):
    facts = {
        "enterprises": [
            {"id": "A", "mining_license": False},  # other branch unknown: still fires
            {"id": "B", "safety_license": False, "mining_license": True},  # second branch holds
            {"id": "C", "mining_license": True},  # true branch unknown: no
            {"id": "D", "mining_license": True, "safety_license": True},  # both known, neither holds
            {"id": "E"},
        ]
    }  # nothing known
    body = rule(
        "r", [{"fact": "enterprises", "as": "e", "where": "not e.mining_license or not e.safety_license"}], "e.id"
    )
    assert subjects(body, facts, instruments) == ["A", "B"]
    # and: a known false part decides, an unknown part does not make it hold
    body = rule(
        "r",
        [
            {
                "fact": "enterprises",
                "as": "e",
                "where": "e.mining_license == false and (e.safety_license == false or e.id == 'A')",
            }
        ],
        "e.id",
    )
    assert subjects(body, facts, instruments) == ["A"]


def test_a_computed_field_read_only_by_a_derived_list_s_where_is_computed(instruments):
    """A derived list may select its facts by a computed field that no rule reads itself (month's end)."""
    header = textwrap.dedent("""\
        computed:
          - {list: production, as: p, field: month_end, value: "date_of(p.year, p.month + 1, 1) - 1"}
        derived:
          late_output:
            from: production
            as: p
            where: p.month_end >= date('2021-07-28')
            group_by: [enterprise]
            sum: {amount_t_reo: amount_t_reo}
        """)
    body = rule("r", [{"fact": "late_output", "as": "o", "where": "o.amount_t_reo > 0"}], "o.enterprise")
    facts = {
        "enterprises": [{"id": "A"}, {"id": "B"}],
        "production": [
            {"enterprise": "A", "period": "2021-07", "activity": "mining", "amount_t_reo": 5},
            {"enterprise": "B", "period": "2021-06", "activity": "mining", "amount_t_reo": 5},
        ],
    }
    assert subjects(body, facts, instruments, header) == ["A"]


@pytest.mark.parametrize(
    "where",
    [
        "e.separation_capacity_t_reo * e.separation_capacity_t_reo > 10",
        "e.designated and (e.separation_capacity_t_reo * e.separation_capacity_t_reo > 10)",  # inside and
        "not (e.designated or e.separation_capacity_t_reo * e.separation_capacity_t_reo > 10)",  # not pushed down
    ],
)
def test_a_comparison_the_engine_cannot_test_on_the_fact_is_refused(instruments, where):
    """The engine tests one field of the pattern's own fact against an expression: a product of two of its
    fields is no such test, wherever it stands in the condition."""
    from policy.loader import RulesetInvalid

    body = rule("r", [{"fact": "enterprises", "as": "e", "where": where}], "e.id")
    with pytest.raises(RulesetInvalid, match="does not compare a field of `e`"):
        ruleset_from("rules:\n" + body, instruments)
