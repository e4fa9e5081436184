"""Legal reviewers' read API: instruments, provisions with their implementing rules, rules with their law."""

from __future__ import annotations

from markupsafe import escape

from helpers import auth, not_a_violation_entries


def test_instruments_and_structure(client):
    r = client.get("/v1/instruments", headers=auth("legal")).json
    assert {(i["id"], i["status"]) for i in r["instruments"]} >= {
        ("measures-draft", "draft"),
        ("notice-2021", "in_force"),
        ("measures-2025", "in_force"),
    }
    m = client.get("/v1/instruments/measures-draft", headers=auth("legal")).json
    assert [p["eid"] for p in m["provisions"] if p["kind"] == "article"] == [f"art_{n}" for n in range(1, 20)]
    assert client.get("/v1/instruments/nope", headers=auth("legal")).status_code == 404
    assert client.get("/v1/instruments", headers=auth("caller")).status_code == 403


def test_provision_with_the_rules_that_implement_it(client):
    p = client.get("/v1/instruments/measures-draft/provisions/art_16__para_2", headers=auth("legal")).json
    assert (
        p["text"] == "稀土集团所属稀土开采企业和稀土冶炼分离企业存在超指标生产等违法违规行为的，核减下一年度稀土指标。"
    )
    assert p["label"] == {"zh": "第十六条第二款", "en": "Art. 16(2)"} and p["coverage"] == "implemented"
    assert {"ruleset": "measures@draft", "status": "active", "by": "quota.over-production"} in p["implemented_by"]
    out = client.get("/v1/instruments/measures-draft/provisions/art_17", headers=auth("legal")).json
    assert out["coverage"] == "out_of_scope" and "officials" in out["out_of_scope"]["en"]
    assert p["not_a_violation"] is None and out["not_a_violation"] is None


def test_provision_shows_the_sentence_that_is_not_a_violation(client):
    """rulesets/coverage.yaml `not_a_violation` (e.g. notice para. 6's exhortation 加快推进…) is on the provision."""
    entries = not_a_violation_entries()
    assert entries
    for inst, eid, entry in entries:
        p = client.get(f"/v1/instruments/{inst}/provisions/{eid}", headers=auth("legal")).json
        assert p["not_a_violation"] == entry and entry["text"] in p["text"]
        for lang in ("zh", "en"):
            page = client.get(f"/ui/instruments/{inst}?lang={lang}", headers=auth("legal")).get_data(as_text=True)
            assert f"“{entry['text']}”" in page and str(escape(" ".join(entry[lang].split()))) in page


def test_rule_with_its_yaml_law_and_parameters(client):
    r = client.get("/v1/rules/notice@2021/eligibility.smelter-ineligible", headers=auth("legal")).json
    assert r["yaml"].startswith("  - id: eligibility.smelter-ineligible") and "capacity_floor_t_reo" in r["yaml"]
    assert [c["eid"] for c in r["citations"]] == ["para_3__item_2", "para_2"]
    assert r["citations"][0]["text"].startswith("稀土冶炼分离企业使用已列入禁止或淘汰目录的落后生产工艺")
    [param] = r["parameters"]
    assert param["name"] == "capacity_floor_t_reo" and param["value"] == 2000
    assert param["citations"][0]["eid"] == "para_3__item_2"
    assert r["when"][1]["condition"].startswith("((e.id == a.enterprise)")
    assert client.get("/v1/rules/notice@2021/nope", headers=auth("legal")).status_code == 404


def test_rule_in_plain_words_with_the_scenarios_that_exercise_it(client):
    r = client.get("/v1/rules/measures@draft/quota.over-production", headers=auth("legal")).json
    assert r["plain"]["zh"].startswith("当存在年度产量合计；并且存在年度指标合计")
    assert r["plain"]["en"].startswith("It is a violation when there is an annual production total")
    assert r["when"][1]["plain"]["en"].startswith("there is an annual quota total such that")
    fires = r["scenarios"]["fires"]
    assert fires and all(any(e["rule"] == "quota.over-production" for e in s["expect"]) for s in fires)
    assert all(s["file"].startswith("scenarios/") for s in fires)
    holds = r["scenarios"]["does_not_fire"]
    assert holds and all(not any(e["rule"] == "quota.over-production" for e in s["expect"]) for s in holds)
    assert r["review"]["status"] in ("unreviewed", "approved") and r["review"]["rule_digest"].startswith("sha256:")
