"""Interpretations recorded on rules: shown with the rule, listed in a register per instrument, named on each
finding that depends on one, and part of the rule's sign-off (a changed interpretation lapses it)."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from api.scenarios import Scenario, load_library
from helpers import auth, token_config
from policy.registry import RULESETS_DIR

NOTICE = (RULESETS_DIR / "notice" / "2021.yaml").read_text(encoding="utf-8")
QUESTION = {
    "zh": "“落后生产工艺和……产能低于2000吨”：两个条件择一还是并存？",
    "en": "'Backward processes and ... capacity below 2,000 t': either condition or both?",
}
READING = {"zh": "择一即不得分配", "en": "Either one bars the allocation"}


def _fixture_rule() -> tuple[str, Scenario]:
    """A notice rule that records no interpretation yet (one citing para 3(2) if there is one), and a library
    scenario where it fires."""
    rules = yaml.safe_load(NOTICE)["rules"]
    para_3_2 = {r["id"] for r in rules if any(c.get("eid") == "para_3__item_2" for c in r.get("citations", []))}
    fired = [
        (e["rule"], s)
        for s in load_library()
        if s.body.get("rulesets") == ["notice@2021"]
        for e in s.expect
        if not any(r["id"] == e["rule"] and "interpretation" in r for r in rules)
    ]
    assert fired, "no notice rule without an interpretation fires in the scenario library"
    return next(((rule, s) for rule, s in fired if rule in para_3_2), fired[0])


RULE, SCENARIO = _fixture_rule()


def with_interpretation(version: str, reason_en: str) -> str:
    """The shipped notice as another version whose rule RULE records an interpretation of para 3(2)."""
    entry = (
        "    interpretation:\n"
        f'      question: {{zh: "{QUESTION["zh"]}", en: "{QUESTION["en"]}"}}\n'
        f"      reading: {{zh: {READING['zh']}, en: {READING['en']}}}\n"
        "      alternative: {zh: 两者须同时具备, en: Both must hold}\n"
        f'      reason: {{zh: 理由, en: "{reason_en}"}}\n'
        "      citation: {instrument: notice-2021, eid: para_3__item_2}\n"
    )
    line = f"  - id: {RULE}\n"
    start = NOTICE.index(line) + len(line)
    severity = NOTICE.index("    severity:", start)
    text = NOTICE[:severity] + entry + NOTICE[severity:]
    return text.replace('version: "2021"', f'version: "{version}"', 1)


def recorded_notes(rule_id: str) -> list[dict] | None:
    """Oracle from the YAML: the (question, reading) pairs a shipped notice rule records, None if it records none."""
    rule = next(r for r in yaml.safe_load(NOTICE)["rules"] if r["id"] == rule_id)
    raw = rule.get("interpretation")
    if raw is None:
        return None
    return [{"question": i["question"], "reading": i["reading"]} for i in (raw if isinstance(raw, list) else [raw])]


RULE_PATH = "/v1/rules/{ref}/" + RULE


@pytest.fixture()
def client(tmp_path):
    from api import create_app

    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "TOKENS": token_config(), "OPEN_EVALUATE": True}
    )
    return app.test_client()


def publish(client, text: str) -> None:
    r = client.post("/v1/rulesets", data=text, headers=auth("regulator"))
    assert r.status_code == 201, r.json


def test_the_rule_view_shows_its_interpretation(client):
    publish(client, with_interpretation("2021-i1", "The text joins them with a plain conjunction"))
    view = client.get(RULE_PATH.format(ref="notice@2021-i1"), headers=auth("legal")).json
    [shown] = view["interpretations"]
    assert shown["question"] == QUESTION and shown["reading"] == READING
    assert shown["alternative"] == {"zh": "两者须同时具备", "en": "Both must hold"}
    assert shown["reason"]["en"] == "The text joins them with a plain conjunction"
    assert shown["citation"]["eid"] == "para_3__item_2" and "产能低于2000吨" in shown["citation"]["text"]
    # the other rules show what their YAML records (nothing, for most)
    for rule in yaml.safe_load(NOTICE)["rules"]:
        if rule["id"] != RULE:
            other = client.get(f"/v1/rules/notice@2021-i1/{rule['id']}", headers=auth("legal")).json
            assert [{k: i[k] for k in ("question", "reading")} for i in other["interpretations"]] == (
                recorded_notes(rule["id"]) or []
            )

    page = client.get(f"/ui/rules/notice@2021-i1/{RULE}?lang=en", headers=auth("legal"))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="interpretations"' in html
    assert READING["en"] in html and "Both must hold" in html


def test_changing_an_interpretation_lapses_the_sign_off(client):
    publish(client, with_interpretation("2021-i1", "The text joins them with a plain conjunction"))
    path = RULE_PATH.format(ref="notice@2021-i1")
    assert (
        client.post(path + "/approvals", json={"comment": "reading checked"}, headers=auth("legal")).json["review"][
            "status"
        ]
        == "approved"
    )
    # the same rule, same conditions, another reason recorded: the sign-off no longer stands
    publish(client, with_interpretation("2021-i2", "A different reason"))
    review = client.get(RULE_PATH.format(ref="notice@2021-i2"), headers=auth("legal")).json["review"]
    assert review["status"] == "changed_since_approval" and review["approvals"] == []
    assert [a["ruleset"] for a in review["earlier_approvals"]] == ["notice@2021-i1"]
    # the same interpretation in a third version: the first sign-off carries over
    publish(client, with_interpretation("2021-i3", "The text joins them with a plain conjunction"))
    same = client.get(RULE_PATH.format(ref="notice@2021-i3"), headers=auth("legal")).json["review"]
    assert same["status"] == "approved"


def test_the_register_lists_every_interpretation_of_the_instrument(client):
    publish(client, with_interpretation("2021-i1", "first reason"))
    publish(client, with_interpretation("2021-i2", "second reason"))
    assert client.get("/v1/instruments/notice-2021/interpretations").status_code == 401
    body = client.get("/v1/instruments/notice-2021/interpretations", headers=auth("regulator")).json
    mine = [
        e for e in body["interpretations"] if e["ruleset"] in ("notice@2021-i1", "notice@2021-i2") and e["rule"] == RULE
    ]
    assert sorted((e["ruleset"], e["rule"], e["reason"]["en"]) for e in mine) == [
        ("notice@2021-i1", RULE, "first reason"),
        ("notice@2021-i2", RULE, "second reason"),
    ]
    assert all(e["lifecycle"] == "draft" and e["binding"] is True and e["question"] == QUESTION for e in mine)
    # every entry is of a rule citing the instrument
    for e in body["interpretations"]:
        rule = client.get(f"/v1/rules/{e['ruleset']}/{e['rule']}", headers=auth("legal")).json
        assert (
            any(c["instrument"] == "notice-2021" for c in rule["citations"])
            or e["citation"]["instrument"] == "notice-2021"
        )
    # another instrument's register does not list them
    other = client.get("/v1/instruments/regulation-2024/interpretations", headers=auth("legal")).json
    assert not [e for e in other["interpretations"] if e["ruleset"].startswith("notice@2021-i")]
    assert client.get("/v1/instruments/nope/interpretations", headers=auth("legal")).status_code == 404

    page = client.get("/ui/instruments/notice-2021/interpretations?lang=en", headers=auth("legal"))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.count(f'data-rule="{RULE}"') >= 2
    assert "first reason" in html and "second reason" in html and QUESTION["en"].replace("'", "&#39;") in html
    assert 'id="interpretations-link"' in client.get("/ui/instruments/notice-2021", headers=auth("legal")).get_data(
        as_text=True
    )


def test_each_finding_says_which_interpretations_it_depends_on(client, contract_schemas):
    """A scenario where the rule fires, judged by the version recording an interpretation on it: its finding
    carries the question and reading; every other finding carries what its rule records (or nothing)."""
    publish(client, with_interpretation("2021-i1", "first reason"))
    body = {**SCENARIO.body, "rulesets": ["notice@2021-i1"]}
    r = client.post("/v1/evaluate", json=body).json
    jsonschema.validate(r, contract_schemas["response"])
    assert RULE in {v["rule"] for v in r["violations"]}
    for v in r["violations"]:
        if v["rule"] == RULE:
            assert v["interpretations"] == (recorded_notes(RULE) or []) + [{"question": QUESTION, "reading": READING}]
        elif recorded_notes(v["rule"]) is None:
            assert "interpretations" not in v
        else:
            assert v["interpretations"] == recorded_notes(v["rule"])
