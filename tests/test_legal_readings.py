"""What a finding says beyond (rule, subject, period): the party named, the consequence stated, the
reading recorded.  Scenarios compare only the first three; these checks read the rest of the response,
written from the texts of the 2021 notice and the draft Measures."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NOTICE, DRAFT = "notice@2021", "measures@draft"


def _evaluate(client, facts, rulesets, as_of="2021-12-31"):
    r = client.post("/v1/evaluate", json={"as_of": as_of, "rulesets": rulesets, "facts": facts})
    assert r.status_code == 200, r.json
    return r.json["violations"]


def test_para_3_finding_is_the_groups_and_names_the_enterprise(client):
    # 通知第三条：有下列情况之一的企业，不得分配指标 — the allocating group (para. 2) is the subject.
    facts = {
        "groups": [{"id": "G1"}],
        "enterprises": [{"id": "E7", "group": "G1", "activities": ["mining"], "mining_license": False}],
        "allocations": [{"enterprise": "E7", "group": "G1", "year": 2021, "activity": "mining", "amount_t_reo": 1200}],
    }
    [v] = _evaluate(client, facts, [NOTICE])
    assert v["rule"] == "eligibility.mine-ineligible"
    assert v["subject"] == {"type": "group", "id": "G1"}
    assert v["details"]["enterprise"] == "E7" and "E7" in v["message"]["zh"] and "E7" in v["message"]["en"]
    assert [c["eid"] for c in v["citations"]] == ["para_3__item_1", "para_2"]


def test_draft_art_16_2_states_no_amount_and_the_excess_is_a_fact(client):
    # 第十六条第二款：……超指标生产等违法违规行为的，核减下一年度稀土指标 — no amount is fixed.
    facts = {
        "groups": [{"id": "G1", "designated": True}],
        "enterprises": [{"id": "E1", "group": "G1", "designated": True}],
        "allocations": [
            {
                "enterprise": "E1",
                "group": "G1",
                "year": 2024,
                "activity": "mining",
                "amount_t_reo": 5000,
                "filed_on": "2024-07-05",
            }
        ],
        "production": [{"enterprise": "E1", "period": "2024-12", "activity": "mining", "amount_t_reo": 5320}],
    }
    [v] = _evaluate(client, facts, [DRAFT], "2024-12-31")  # the draft's period starts on 2024-06-22
    assert v["details"]["excess_t_reo"] == 320
    [cut] = [c for c in v["consequences"] if c["type"] == "next_year_quota_reduction"]
    assert set(cut) == {"type", "citation", "description"}, "the text fixes no amount of the reduction"
    assert cut["citation"]["eid"] == "art_16__para_2"


def test_draft_production_without_quota_carries_no_next_year_reduction(client):
    # The reading of 等 recorded on quota.over-production: 16(2) reaches only the act it names.
    facts = {
        "groups": [{"id": "G1", "designated": True}],
        "enterprises": [{"id": "E1", "group": "G1", "designated": True}],
        "production": [{"enterprise": "E1", "period": "2024-12", "activity": "mining", "amount_t_reo": 100}],
    }
    [v] = _evaluate(client, facts, [DRAFT], "2024-12-31")
    assert v["rule"] == "quota.production-without-quota"
    assert all(c["citation"]["eid"] != "art_16__para_2" for c in v["consequences"])


def test_open_provisions_carry_their_recorded_reading(shipped):
    expected = {
        (NOTICE, "eligibility.smelter-ineligible"),
        (NOTICE, "eligibility.long-term-shutdown"),
        (DRAFT, "allocation.not-filed"),
        (DRAFT, "quota.over-production"),
    }
    for ref, rule_id in expected:
        rule = next(r for r in shipped[ref].rules if r.id == rule_id)
        assert rule.interpretations, f"{ref} {rule_id} records no interpretation"
        for entry in rule.interpretations:
            for text in (entry.question, entry.reading, entry.alternative, entry.reason):
                assert text["zh"].strip() and text["en"].strip()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    banned=st.sampled_from([True, False, None]),
    capacity=st.one_of(st.none(), st.integers(0, 4000)),
    suspended=st.sampled_from([True, False, None]),
)
def test_para_3_2_reads_process_and_capacity_together(client, banned, capacity, suspended):
    # "使用……落后生产工艺和冶炼分离产能低于2000吨（REO）/年的，或有关部门明确要求停产整改的"
    enterprise = {"id": "E2", "group": "G1", "activities": ["smelting_separation"]}
    for key, value in (
        ("banned_process", banned),
        ("separation_capacity_t_reo", capacity),
        ("ordered_to_suspend", suspended),
    ):
        if value is not None:
            enterprise[key] = value
    facts = {
        "groups": [{"id": "G1"}],
        "enterprises": [enterprise],
        "allocations": [
            {"enterprise": "E2", "group": "G1", "year": 2021, "activity": "smelting_separation", "amount_t_reo": 900}
        ],
    }
    fired = any(v["rule"] == "eligibility.smelter-ineligible" for v in _evaluate(client, facts, [NOTICE]))
    both = banned is True and capacity is not None and capacity < 2000
    assert fired == (both or suspended is True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    day=st.dates(min_value=dt.date(2021, 1, 1), max_value=dt.date(2021, 12, 31)),
    kind=st.sampled_from(["toll", "illegal", "import", "feedstock"]),
    material=st.sampled_from(
        ["rare_earth_mineral_product", "rare_earth_enrichment", "imported_mineral_product", "other"]
    ),
    group=st.sampled_from(["G1", None, "absent"]),
)
def test_para_4_judges_conduct_from_the_notice_date_on(client, day, kind, material, group):
    # 通知第四条, dated 2021-08-24: "严禁开展稀土产品代加工……不得采购加工非法稀土矿产品；综合利用企业不得以稀土
    # 矿产品（含富集物、进口矿产品）为原料进行生产；利用境外稀土资源要严格遵守有关进出口管理规定"
    transaction = {
        "toll": {"type": "toll_processing", "material": material},
        "illegal": {"type": "purchase", "material": material, "source_legal": False},
        "import": {"type": "import", "material": material, "import_compliant": False},
        "feedstock": {"type": "raw_material_use", "material": material, "source_legal": True},
    }[kind]
    enterprise = {
        "id": "E1",
        "activities": ["comprehensive_utilization" if kind == "feedstock" else "smelting_separation"],
    }
    if group != "absent":
        enterprise["group"] = group
    facts = {
        "groups": [{"id": "G1"}],
        "enterprises": [enterprise],
        "transactions": [{"enterprise": "E1", "date": day.isoformat(), **transaction}],
    }
    found = [(v["rule"], v["subject"]["type"], v["subject"]["id"]) for v in _evaluate(client, facts, [NOTICE])]
    after = day >= dt.date(2021, 8, 24)
    mineral = material != "other"
    expected = {
        "toll": after and group == "G1" and [("conduct.toll-processing", "group", "G1")],
        "illegal": after and group == "G1" and mineral and [("conduct.illegal-ore", "group", "G1")],
        "import": after and group == "G1" and [("conduct.non-compliant-import", "group", "G1")],
        "feedstock": after
        and mineral
        and [("conduct.comprehensive-utilization-mineral-feedstock", "enterprise", "E1")],
    }[kind] or []
    assert found == expected
