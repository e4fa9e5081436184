"""What a finding says beyond (rule, subject, period): the party named, the consequence stated, the
reading recorded.  Scenarios compare only the first three; these checks read the rest of the response,
written from the texts of the 2021 notice and the draft Measures."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NOTICE, DRAFT = "notice@2021", "measures@draft"


def _evaluate(client, facts, rulesets, as_of="2021-12-31"):
    r = client.post("/v1/evaluate", json={"as_of": as_of, "rulesets": rulesets, "facts": facts})
    assert r.status_code == 200, r.json
    return r.json["violations"]


def test_para_3_finding_is_the_groups_and_names_the_enterprise(client):
    # 通知第三条：有下列情况之一的企业，不得分配指标 — the allocating group (para. 2) is the subject.
    facts = {"groups": [{"id": "G1"}],
             "enterprises": [{"id": "E7", "group": "G1", "activities": ["mining"], "mining_license": False}],
             "allocations": [{"enterprise": "E7", "group": "G1", "year": 2021, "activity": "mining",
                              "amount_t_reo": 1200}]}
    [v] = _evaluate(client, facts, [NOTICE])
    assert v["rule"] == "eligibility.mine-ineligible"
    assert v["subject"] == {"type": "group", "id": "G1"}
    assert v["details"]["enterprise"] == "E7" and "E7" in v["message"]["zh"] and "E7" in v["message"]["en"]
    assert [c["eid"] for c in v["citations"]] == ["para_3__item_1", "para_2"]


def test_draft_art_16_2_states_no_amount_and_the_excess_is_a_fact(client):
    # 第十六条第二款：……超指标生产等违法违规行为的，核减下一年度稀土指标 — no amount is fixed.
    facts = {"groups": [{"id": "G1", "designated": True}],
             "enterprises": [{"id": "E1", "group": "G1", "designated": True}],
             "allocations": [{"enterprise": "E1", "group": "G1", "year": 2021, "activity": "mining",
                              "amount_t_reo": 5000, "filed_on": "2021-03-05"}],
             "production": [{"enterprise": "E1", "period": "2021-12", "activity": "mining", "amount_t_reo": 5320}]}
    [v] = _evaluate(client, facts, [DRAFT])
    assert v["details"]["excess_t_reo"] == 320
    [cut] = [c for c in v["consequences"] if c["type"] == "next_year_quota_reduction"]
    assert set(cut) == {"type", "citation", "description"}, "the text fixes no amount of the reduction"
    assert cut["citation"]["eid"] == "art_16__para_2"


def test_draft_production_without_quota_carries_no_next_year_reduction(client):
    # The reading of 等 recorded on quota.over-production: 16(2) reaches only the act it names.
    facts = {"groups": [{"id": "G1", "designated": True}],
             "enterprises": [{"id": "E1", "group": "G1", "designated": True}],
             "production": [{"enterprise": "E1", "period": "2021-12", "activity": "mining", "amount_t_reo": 100}]}
    [v] = _evaluate(client, facts, [DRAFT])
    assert v["rule"] == "quota.production-without-quota"
    assert all(c["citation"]["eid"] != "art_16__para_2" for c in v["consequences"])


def test_open_provisions_carry_their_recorded_reading(shipped):
    expected = {(NOTICE, "eligibility.smelter-ineligible"), (NOTICE, "eligibility.long-term-shutdown"),
                (DRAFT, "allocation.not-filed"), (DRAFT, "quota.over-production")}
    for ref, rule_id in expected:
        rule = next(r for r in shipped[ref].rules if r.id == rule_id)
        assert rule.interpretations, f"{ref} {rule_id} records no interpretation"
        for entry in rule.interpretations:
            for text in (entry.question, entry.reading, entry.alternative, entry.reason):
                assert text["zh"].strip() and text["en"].strip()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(banned=st.sampled_from([True, False, None]), capacity=st.one_of(st.none(), st.integers(0, 4000)),
       suspended=st.sampled_from([True, False, None]))
def test_para_3_2_reads_process_and_capacity_together(client, banned, capacity, suspended):
    # "使用……落后生产工艺和冶炼分离产能低于2000吨（REO）/年的，或有关部门明确要求停产整改的"
    enterprise = {"id": "E2", "group": "G1", "activities": ["smelting_separation"]}
    for key, value in (("banned_process", banned), ("separation_capacity_t_reo", capacity),
                       ("ordered_to_suspend", suspended)):
        if value is not None:
            enterprise[key] = value
    facts = {"groups": [{"id": "G1"}], "enterprises": [enterprise],
             "allocations": [{"enterprise": "E2", "group": "G1", "year": 2021, "activity": "smelting_separation",
                              "amount_t_reo": 900}]}
    fired = any(v["rule"] == "eligibility.smelter-ineligible" for v in _evaluate(client, facts, [NOTICE]))
    both = banned is True and capacity is not None and capacity < 2000
    assert fired == (both or suspended is True)
