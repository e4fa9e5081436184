"""Publishing, activating and rolling back ruleset versions; access control; audit trail."""

from __future__ import annotations

import pytest

from helpers import FLOOR_3000, SMELTER_2500, auth, token_config


@pytest.fixture(name="client")
def registry_client(fresh_client):
    """Every test here on a registry of its own."""
    return fresh_client


def rules_fired(client, body) -> list[tuple[str, str]]:
    r = client.post("/v1/evaluate", json=body)
    assert r.status_code == 200, r.json
    return [(v["ruleset"], v["rule"]) for v in r.json["violations"]]


def test_shipped_rulesets_are_in_the_registry_and_active(client):
    r = client.get("/v1/rulesets", headers=auth("legal"))
    assert {(v["id"], v["version"], v["status"]) for v in r.json["versions"]} >= {
        ("measures", "draft", "active"),
        ("notice", "2021", "active"),
    }


def test_invalid_version_is_rejected_with_its_line_and_the_old_one_keeps_serving(client):
    before = rules_fired(client, SMELTER_2500)
    broken = FLOOR_3000.replace("severity: minor", "severity: tiny", 1)
    r = client.post("/v1/rulesets?file=rulesets/notice/2021-floor3000.yaml", data=broken, headers=auth("regulator"))
    assert r.status_code == 422 and r.json["error"] == "invalid_ruleset"
    [issue] = r.json["issues"]
    assert issue["file"] == "rulesets/notice/2021-floor3000.yaml" and issue["rule"] == "allocation.split-late"
    assert broken.splitlines()[issue["line"] - 1].strip() == "severity: tiny"
    assert client.get("/v1/rulesets/notice/2021-floor3000", headers=auth("legal")).status_code == 404
    assert rules_fired(client, SMELTER_2500) == before


def test_publish_activate_and_roll_back(client):
    assert rules_fired(client, SMELTER_2500) == []  # 2,500 t is above the 2,000 t floor
    r = client.post("/v1/rulesets?comment=raise+floor", data=FLOOR_3000, headers=auth("regulator"))
    assert r.status_code == 201 and r.json["status"] == "draft"
    assert rules_fired(client, SMELTER_2500) == []  # a draft does not judge by default...
    pinned = {**SMELTER_2500, "rulesets": ["notice@2021-floor3000"]}
    assert rules_fired(client, pinned) == [
        ("notice@2021-floor3000", "eligibility.smelter-ineligible")
    ]  # ...pinned, it does

    r = client.post("/v1/rulesets/notice/2021-floor3000/activate", headers=auth("regulator"))
    assert r.status_code == 200 and r.json["retired"] == ["notice@2021"]
    assert rules_fired(client, SMELTER_2500) == [("notice@2021-floor3000", "eligibility.smelter-ineligible")]

    r = client.post("/v1/rulesets/notice/2021/activate", headers=auth("regulator"))  # rollback
    assert r.json["retired"] == ["notice@2021-floor3000"]
    assert rules_fired(client, SMELTER_2500) == []

    entries = client.get("/v1/audit", headers=auth("legal")).json["entries"]
    actions = [(e["action"], e["ruleset"]) for e in entries if e["actor"] == "regulator-user"]
    assert actions == [
        ("publish", "notice@2021-floor3000"),
        ("retire", "notice@2021"),
        ("activate", "notice@2021-floor3000"),
        ("retire", "notice@2021-floor3000"),
        ("activate", "notice@2021"),
    ]
    assert all(e["digest_after"].startswith("sha256:") for e in entries)


def test_versions_are_immutable(client):
    assert client.post("/v1/rulesets", data=FLOOR_3000, headers=auth("regulator")).status_code == 201
    again = client.post("/v1/rulesets", data=FLOOR_3000, headers=auth("regulator"))
    assert again.status_code == 200 and again.json["created"] is False
    changed = FLOOR_3000.replace("value: 3000", "value: 3500")
    r = client.post("/v1/rulesets", data=changed, headers=auth("regulator"))
    assert r.status_code == 409 and r.json["error"] == "version_exists"


def test_own_scenarios_must_pass(client):
    scenario = """
scenarios:
  - name: a smelter of 2,500 t is eligible
    as_of: "2021-12-31"
    rulesets: ["notice@2021-floor3000"]
    facts:
      groups: [{id: G1}]
      enterprises: [{id: E2, group: G1, activities: [smelting_separation], banned_process: true, separation_capacity_t_reo: 2500}]
      allocations: [{enterprise: E2, group: G1, year: 2021, activity: smelting_separation, amount_t_reo: 800}]
    expect: []
"""
    r = client.post("/v1/rulesets", data=FLOOR_3000 + scenario, headers=auth("regulator"))
    assert r.status_code == 422 and r.json["error"] == "scenarios_failed"
    assert "found, not expected: eligibility.smelter-ineligible G1 2021" in r.json["scenarios"][0]
    fixed = scenario.replace(
        "expect: []", 'expect: [{rule: eligibility.smelter-ineligible, subject: G1, period: "2021"}]'
    )
    assert client.post("/v1/rulesets", data=FLOOR_3000 + fixed, headers=auth("regulator")).status_code == 201


@pytest.mark.parametrize(
    "method,path,role,status",
    [
        ("post", "/v1/rulesets", None, 401),
        ("post", "/v1/rulesets", "caller", 403),
        ("post", "/v1/rulesets", "legal", 403),
        ("post", "/v1/rulesets/notice/2021/activate", "legal", 403),
        ("get", "/v1/audit", None, 401),
        ("get", "/v1/audit", "caller", 403),
        ("get", "/v1/audit", "legal", 200),
        ("get", "/v1/rulesets", "regulator", 200),
    ],
)
def test_roles(client, method, path, role, status):
    headers = auth(role) if role else {}
    r = getattr(client, method)(path, headers=headers, data=FLOOR_3000 if method == "post" else None)
    assert r.status_code == status


def test_wrong_token_and_closed_evaluate(tmp_path):
    from api import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "TOKENS": token_config()})
    c = app.test_client()
    assert c.post("/v1/evaluate", json=SMELTER_2500).status_code == 401
    assert c.post("/v1/evaluate", json=SMELTER_2500, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert c.post("/v1/evaluate", json=SMELTER_2500, headers=auth("caller")).status_code == 200


def test_no_default_credentials(tmp_path):
    from api import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"})
    c = app.test_client()
    assert c.get("/v1/audit", headers={"Authorization": "Bearer dev-regulator"}).status_code == 401
    dev = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", "DEV_MODE": True}).test_client()
    assert dev.get("/v1/audit", headers={"Authorization": "Bearer dev-regulator"}).status_code == 200
