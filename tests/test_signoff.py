"""Legal sign-off of rule versions: recorded by the legal role, shown with the rule and in coverage, and
void for a rule whose meaning changes in a later version (issue: legal staff review, item 5)."""

from __future__ import annotations

import pytest

from helpers import auth, token_config
from policy.registry import RULESETS_DIR

NOTICE = (RULESETS_DIR / "notice" / "2021.yaml").read_text(encoding="utf-8")
# A later version that raises the capacity floor: the smelter rule reads it, the toll-processing rule does not.
FLOOR_3000 = NOTICE.replace('version: "2021"', 'version: "2021-floor3000"').replace(
    "    value: 2000\n    unit: t_reo_per_year", "    value: 3000\n    unit: t_reo_per_year"
)
SMELTER = "/v1/rules/{ref}/eligibility.smelter-ineligible"
TOLL = "/v1/rules/{ref}/conduct.toll-processing"


@pytest.fixture()
def client(tmp_path):
    from api import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "TOKENS": token_config()})
    return app.test_client()


def approve(client, path: str, comment: str = "checked against the text", role: str = "legal"):
    return client.post(path + "/approvals", json={"comment": comment}, headers=auth(role))


def test_only_legal_reviewers_sign_off(client):
    path = SMELTER.format(ref="notice@2021")
    assert approve(client, path, role="regulator").status_code == 403
    assert approve(client, path, role="caller").status_code == 403
    assert client.post(path + "/approvals", json={"comment": 5}, headers=auth("legal")).status_code == 400
    assert client.post("/v1/rules/notice@2021/nope/approvals", headers=auth("legal")).status_code == 404
    assert client.get(path, headers=auth("legal")).json["review"]["status"] == "unreviewed"


def test_approval_stands_until_the_rule_changes(client):
    old_smelter, old_toll = SMELTER.format(ref="notice@2021"), TOLL.format(ref="notice@2021")
    r = approve(client, old_smelter, "matches para 3 item 2")
    assert r.status_code == 201
    assert r.json["approval"]["reviewer"] == "legal-user" and r.json["approval"]["comment"] == "matches para 3 item 2"
    assert r.json["review"]["status"] == "approved"
    assert approve(client, old_toll).status_code == 201
    shown = client.get(old_smelter, headers=auth("regulator")).json["review"]
    assert shown["status"] == "approved" and [a["reviewer"] for a in shown["approvals"]] == ["legal-user"]

    assert client.post("/v1/rulesets", data=FLOOR_3000, headers=auth("regulator")).status_code == 201
    new_smelter, new_toll = SMELTER.format(ref="notice@2021-floor3000"), TOLL.format(ref="notice@2021-floor3000")
    changed = client.get(new_smelter, headers=auth("legal")).json["review"]
    assert changed["status"] == "changed_since_approval" and changed["approvals"] == []
    assert changed["earlier_approvals"][0]["ruleset"] == "notice@2021"
    # the toll-processing rule means the same in both versions: its sign-off carries over
    same = client.get(new_toll, headers=auth("legal")).json["review"]
    assert same["status"] == "approved" and same["approvals"][0]["ruleset"] == "notice@2021"
    # the old version's sign-off is untouched; approving the new one makes it approved
    assert client.get(old_smelter, headers=auth("legal")).json["review"]["status"] == "approved"
    assert approve(client, new_smelter, "floor of 3,000 t checked").json["review"]["status"] == "approved"
    audit = client.get("/v1/audit", headers=auth("legal")).json["entries"]
    assert [e["action"] for e in audit].count("approve") == 3


def test_reformatting_keeps_the_sign_off(client):
    from policy.review import rule_digest
    from policy.loader import load_ruleset
    from policy.instruments import load_instruments

    instruments = load_instruments()
    a = load_ruleset(NOTICE, "a.yaml", instruments)
    b = load_ruleset(
        NOTICE.replace('version: "2021"', 'version: "2021-b"')
        .replace("# ", "#  ")
        .replace("severity: minor", "severity:   minor"),
        "b.yaml",
        instruments,
    )
    for rule in a.rules:
        assert rule_digest(a, rule) == rule_digest(b, b.rule(rule.id)), rule.id
    c = load_ruleset(FLOOR_3000, "c.yaml", instruments)
    changed = [r.id for r in a.rules if rule_digest(a, r) != rule_digest(c, c.rule(r.id))]
    assert changed == ["eligibility.smelter-ineligible"]
