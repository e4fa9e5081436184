"""POST /v1/evaluate?explain=unknowns: the rules that missing facts kept from deciding, with the fields
that were missing (contract v1: a field left out is unknown, never false)."""

from __future__ import annotations

import copy
import datetime as dt

from engine.unknowns import unknowns

MINE = {
    "as_of": "2021-12-31",
    "rulesets": ["notice@2021"],
    "facts": {
        "groups": [{"id": "G1", "designated": True}],
        "enterprises": [
            {
                "id": "E1",
                "group": "G1",
                "activities": ["mining"],
                "safety_license": True,
                "ordered_to_suspend": False,
                "recycling_project_expired": False,
                "emissions_compliant": True,
                "radiation_compliant": True,
                "tailings_compliant": True,
                "long_term_shutdown": False,
                "traceability_system": True,
            }
        ],
        "allocations": [
            {
                "enterprise": "E1",
                "group": "G1",
                "year": 2021,
                "activity": "mining",
                "amount_t_reo": 100,
                "issued_on": "2021-09-01",
                "filed_on": "2021-09-03",
            }
        ],
    },
}


def explain(client, body):
    r = client.post("/v1/evaluate?explain=unknowns", json=body)
    assert r.status_code == 200, r.json
    return r.json


def test_a_missing_licence_leaves_the_mine_rule_open(client):
    """Notice para 3 item 1: a mine without a mining licence may get no quota; the licence was not said."""
    body = explain(client, MINE)
    assert body["violations"] == [] and body["unknowns"]["complete"] is True
    [entry] = body["unknowns"]["items"]
    assert entry["rule"] == "eligibility.mine-ineligible" and entry["ruleset"] == "notice@2021"
    assert entry["missing"] == ["facts.enterprises[0].mining_license"]
    assert entry["facts"] == ["facts.allocations[0]", "facts.enterprises[0]"]
    assert entry["citations"] == [
        {"instrument": "notice-2021", "eid": "para_3__item_1"},
        {"instrument": "notice-2021", "eid": "para_2"},
    ]


def test_once_the_fact_is_given_the_rule_is_decided(client):
    for licence, fired in ((True, []), (False, ["eligibility.mine-ineligible"])):
        body = copy.deepcopy(MINE)
        body["facts"]["enterprises"][0]["mining_license"] = licence
        result = explain(client, body)
        assert [v["rule"] for v in result["violations"]] == fired
        assert result["unknowns"]["items"] == []


def test_a_join_names_the_missing_field_of_the_right_fact(client):
    """Measures Art. 11(2): an enterprise report without its amount cannot be checked against production."""
    body = {
        "as_of": "2024-12-31",
        "rulesets": ["measures@draft"],
        "facts": {
            "groups": [{"id": "G1", "designated": True}],
            "enterprises": [{"id": "E1", "group": "G1", "activities": ["mining"], "designated": True}],
            "production": [{"enterprise": "E1", "period": "2024-09", "activity": "mining", "amount_t_reo": 40}],
            "reports": [
                {
                    "reporter": "E1",
                    "level": "enterprise",
                    "period": "2024-09",
                    "submitted_on": "2024-10-05",
                    "recipient": "provincial_miit",
                    "reported_amount_t_reo": 40,
                },
                {
                    "reporter": "E1",
                    "level": "enterprise",
                    "period": "2024-09",
                    "submitted_on": "2024-10-06",
                    "recipient": "provincial_miit",
                },
            ],
        },
    }
    items = explain(client, body)["unknowns"]["items"]
    differs = [i for i in items if i["rule"] == "reporting.reported-amount-differs"]
    assert [i["missing"] for i in differs] == [["facts.reports[1].reported_amount_t_reo"]]
    assert "facts.production[0]" in differs[0]["facts"]


def test_without_the_parameter_the_response_is_unchanged(client):
    assert "unknowns" not in client.post("/v1/evaluate", json=MINE).json


def test_a_bad_value_is_a_400_with_its_path(client):
    r = client.post("/v1/evaluate?explain=everything", json=MINE)
    assert r.status_code == 400 and r.json["errors"][0]["path"] == "?explain"


def test_the_search_is_bounded(shipped):
    facts = copy.deepcopy(MINE["facts"])
    facts["enterprises"] = [dict(facts["enterprises"][0], id=f"E{i}") for i in range(50)]
    facts["allocations"] = [dict(facts["allocations"][0], enterprise=f"E{i}") for i in range(50)]
    found, truncated = unknowns(shipped["notice@2021"], facts, dt.date(2021, 12, 31), max_steps=30)
    assert truncated and len(found) < 50
    found, truncated = unknowns(shipped["notice@2021"], facts, dt.date(2021, 12, 31))
    assert not truncated and len([f for f in found if f["rule"] == "eligibility.mine-ineligible"]) == 20  # per rule


def test_explain_plain_writes_each_violation_out_with_its_values(client):
    from helpers import example

    r = client.post("/v1/evaluate?explain=plain,unknowns", json=example("over-quota"))
    assert r.status_code == 200 and "unknowns" in r.json
    over = [v for v in r.json["violations"] if v["rule"] == "quota.over-production"]
    assert over and all(
        v["explanation_plain"]["en"].endswith(
            "the annual quota total's amount (t REO) (5,000) is less than the annual production total's amount "
            "(t REO) (5,320)"
        )
        for v in over
    )
    assert "explanation_plain" not in client.post("/v1/evaluate", json=example("over-quota")).json["violations"][0]


def test_a_null_that_is_a_fact_is_known_not_missing(client):
    """`submitted_on: null` says the report was not submitted: the late rule cannot fire whatever is
    added, so it is not undecided, while the never-submitted rule fires on the same report."""
    from helpers import example

    body = explain(client, example("late-report-and-small-smelter"))
    assert any(v["rule"] == "reporting.group-monthly-missing" for v in body["violations"])
    late = [i for i in body["unknowns"]["items"] if i["rule"] == "reporting.group-monthly-late"]
    assert late == []
    assert not any("submitted_on" in m for i in body["unknowns"]["items"] for m in i["missing"])


def test_a_left_out_date_is_still_missing(shipped):
    report = {
        "reporter": "G1",
        "level": "group",
        "period": "2021-11",
        "recipient": "miit",
        "includes_traceability_data": True,
    }
    facts = {"groups": [{"id": "G1", "designated": True}], "reports": [report]}
    found, _ = unknowns(shipped["notice@2021"], facts, dt.date(2021, 12, 31))
    assert ["facts.reports[0].submitted_on"] in [
        i["missing"] for i in found if i["rule"] == "reporting.group-monthly-late"
    ]
    facts["reports"] = [dict(report, submitted_on=None)]
    found, _ = unknowns(shipped["notice@2021"], facts, dt.date(2021, 12, 31))
    assert [i for i in found if i["rule"] == "reporting.group-monthly-late"] == []


def test_a_missing_computed_value_names_the_submitted_field_it_needs(instruments):
    """A computed field is not something a caller can send: the entry names the field behind it."""
    from rules_helpers import ruleset_from

    rs = ruleset_from(
        """
computed:
  - {list: reports, as: r, field: k, value: "r.reported_amount_t_reo + 1"}
  - {list: reports, as: r, field: k2, value: "r.k * 2"}
rules:
  - id: big
    title: {zh: 测, en: t}
    severity: minor
    when: [{fact: reports, as: r, where: "r.k2 > 10"}]
    subject: {type: enterprise, id: r.reporter}
    message: {zh: "{subject}", en: "{subject}"}
    citations: [{instrument: notice-2021, eid: para_7}]
""",
        instruments,
    )
    facts = {"reports": [{"reporter": "E1", "level": "enterprise", "period": "2021-03"}]}
    [entry], _ = unknowns(rs, facts, dt.date(2021, 12, 31))
    assert entry["missing"] == ["facts.reports[0].reported_amount_t_reo"]


def _one_pattern_rule(instruments, fact: str, alias: str, where: str, subject: str):
    """A ruleset of one rule over one fact, firing where ``where`` holds."""
    from rules_helpers import ruleset_from

    return ruleset_from(
        f"""
rules:
  - id: r0
    title: {{zh: 测, en: t}}
    severity: minor
    when: [{{fact: {fact}, as: {alias}, where: "{where}"}}]
    subject: {{type: enterprise, id: {subject}}}
    message: {{zh: "{{subject}}", en: "{{subject}}"}}
    citations: [{{instrument: notice-2021, eid: para_7}}]
""",
        instruments,
    )


def test_a_condition_no_value_of_the_missing_flag_can_satisfy_is_not_undecided(instruments):
    """``a.issued and (not a.issued or a.amount_t_reo == 0)`` is false for an allocation of 1 t whether or not
    it was issued: three-valued logic alone calls it unknown, so the flag's two values are tried. The same
    condition with an amount of 0 does depend on the flag, and is reported."""
    where = "(a.issued) and ((not a.issued) or (a.amount_t_reo == 0))"
    rs = _one_pattern_rule(instruments, "allocations", "a", where, "a.enterprise")
    allocation = {"enterprise": "E0", "year": 2020, "activity": "mining", "amount_t_reo": 1, "filed_on": "2021-04-12"}
    found, _ = unknowns(rs, {"allocations": [allocation]}, dt.date(2021, 12, 31))
    assert found == []
    found, _ = unknowns(rs, {"allocations": [dict(allocation, amount_t_reo=0)]}, dt.date(2021, 12, 31))
    assert [e["missing"] for e in found] == [["facts.allocations[0].issued_on"]]


def test_an_enum_is_tried_over_its_values(instruments):
    """A report of 1 t sent to the ministry is not over 5 t: whatever its missing recipient, the condition
    is false; with 6 t it is the recipient that decides."""
    where = "r.recipient == 'miit' and (r.recipient != 'miit' or r.reported_amount_t_reo > 5)"
    rs = _one_pattern_rule(instruments, "reports", "r", where, "r.reporter")
    report = {"reporter": "E1", "level": "enterprise", "period": "2021-03", "reported_amount_t_reo": 1}
    found, _ = unknowns(rs, {"reports": [report]}, dt.date(2021, 12, 31))
    assert found == []
    found, _ = unknowns(rs, {"reports": [dict(report, reported_amount_t_reo=6)]}, dt.date(2021, 12, 31))
    assert [e["missing"] for e in found] == [["facts.reports[0].recipient"]]


def test_a_false_flag_settles_its_date(instruments):
    """``not (a.issued or a.issued_on == '2021-03-31')`` needs an allocation not issued whose issue date is
    not 31 March: not issued is ``issued_on: null``, which has no date to compare, so no completion holds."""
    where = "not ((a.issued) or (a.issued_on == '2021-03-31'))"
    rs = _one_pattern_rule(instruments, "allocations", "a", where, "a.enterprise")
    allocation = {"enterprise": "E0", "year": 2020, "activity": "mining", "amount_t_reo": 1}
    found, _ = unknowns(rs, {"allocations": [allocation]}, dt.date(2021, 12, 31))
    assert found == []


def test_a_field_the_rule_needs_known_is_missing_even_outside_the_conditions(shipped):
    """Toll processing by an enterprise whose group is not sent (scenario 'undecided' of notice-conduct): the
    finding is on the group (`subject: e.group`), so the group must be known for the rule to fire: it is what
    is missing, though no condition reads it."""
    facts = {
        "groups": [{"id": "G1", "designated": True}],
        "enterprises": [{"id": "E4", "activities": ["smelting_separation"]}],
        "transactions": [{"enterprise": "E4", "date": "2021-09-02", "type": "toll_processing"}],
    }
    found, _ = unknowns(shipped["notice@2021"], facts, dt.date(2021, 12, 31))
    assert [(e["rule"], e["missing"]) for e in found] == [("conduct.toll-processing", ["facts.enterprises[0].group"])]
    facts["enterprises"][0]["group"] = "G1"
    assert unknowns(shipped["notice@2021"], facts, dt.date(2021, 12, 31))[0] == []


def test_a_field_an_unless_needs_that_no_request_can_give_leaves_nothing_undecided(instruments):
    """An unless reading the report's month needs the month known for any match (docs/rules.md, "Which fields
    must be known"): an annual report (`period: "2021"`) has none whatever else is sent, so its missing amount
    decides nothing."""
    from rules_helpers import ruleset_from

    rs = ruleset_from(
        """
rules:
  - id: r0
    title: {zh: 测, en: t}
    severity: minor
    when: [{fact: reports, as: a, where: "a.reported_amount_t_reo == 0"}]
    unless: [{fact: allocations, as: z, where: "z.enterprise == a.reporter and z.amount_t_reo == a.month"}]
    subject: {type: enterprise, id: a.reporter}
    message: {zh: "{subject}", en: "{subject}"}
    citations: [{instrument: notice-2021, eid: para_7}]
""",
        instruments,
    )
    report = {"reporter": "E1", "level": "enterprise", "period": "2021", "recipient": "miit"}
    assert unknowns(rs, {"reports": [report]}, dt.date(2022, 1, 31))[0] == []
    monthly = dict(report, period="2021-03")
    found, _ = unknowns(rs, {"reports": [monthly]}, dt.date(2022, 1, 31))
    assert [e["missing"] for e in found] == [["facts.reports[0].reported_amount_t_reo"]]
