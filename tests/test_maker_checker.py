"""Maker-checker activation: a version's changed rules are signed off by a legal reviewer other than its
publisher before it is activated; a regulator may override in an emergency, in writing, audited and shown
on the rule page until the rule is signed off."""

from __future__ import annotations

import re

import pytest

from api.auth import token_digest
from helpers import FLOOR_3000, log_in

TOKENS = {"wang-reg": ("wang", "regulator"), "wang-legal": ("wang", "legal"), "li-legal": ("li", "legal")}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def rules_reading(text: str, parameter: str) -> set[str]:
    """The ids of the rules whose YAML block names ``params.<parameter>`` (read from the file's text)."""
    blocks = re.split(r"\n  - id: ", text.split("\nrules:\n", 1)[1])
    return {block.split("\n", 1)[0].strip() for block in blocks if f"params.{parameter}" in block}


@pytest.fixture()
def client(tmp_path):
    from api import create_app

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
            "OPEN_EVALUATE": True,
            "MAKER_CHECKER": True,
            "TOKENS": ";".join(f"{n}:{r}:{token_digest(t)}" for t, (n, r) in TOKENS.items()),
        }
    )
    return app.test_client()


def publish_draft(client) -> None:
    r = client.post("/v1/rulesets", data=FLOOR_3000, headers=bearer("wang-reg"))
    assert r.status_code == 201, r.json


def activate(client, ref: str = "notice/2021-floor3000", query: str = ""):
    return client.post(f"/v1/rulesets/{ref}/activate{query}", headers=bearer("wang-reg"))


def sign(client, rule: str, token: str):
    r = client.post(
        f"/v1/rules/notice@2021-floor3000/{rule}/approvals", json={"comment": "checked"}, headers=bearer(token)
    )
    assert r.status_code == 201, r.json


def test_changed_rules_must_be_signed_off_by_someone_else_before_activation(client):
    publish_draft(client)
    changed = rules_reading(FLOOR_3000, "capacity_floor_t_reo")
    assert changed  # the floor is read by at least one rule
    r = activate(client)
    assert r.status_code == 409 and r.json["error"] == "sign_off_required"
    assert {x["rule"] for x in r.json["rules"]} == changed
    for rule in changed:
        sign(client, rule, "wang-legal")  # the publisher himself, under his legal token: does not count
    assert activate(client).status_code == 409
    for rule in changed:
        sign(client, rule, "li-legal")
    r = activate(client)
    assert r.status_code == 200 and r.json["retired"] == ["notice@2021"] and r.json["overridden"] == []


def test_a_rollback_to_rules_once_in_force_needs_no_new_sign_off(client):
    publish_draft(client)
    for rule in rules_reading(FLOOR_3000, "capacity_floor_t_reo"):
        sign(client, rule, "li-legal")
    assert activate(client).status_code == 200
    r = activate(client, "notice/2021")
    assert r.status_code == 200 and r.json["retired"] == ["notice@2021-floor3000"]


def test_publish_and_activate_at_once_is_refused_until_signed(client):
    r = client.post("/v1/rulesets?activate=true", data=FLOOR_3000, headers=bearer("wang-reg"))
    assert r.status_code == 409 and r.json["error"] == "sign_off_required"
    assert client.get("/v1/rulesets/notice/2021-floor3000", headers=bearer("li-legal")).status_code == 404


def test_an_emergency_override_is_audited_and_shown_until_signed(client):
    publish_draft(client)
    changed = sorted(rules_reading(FLOOR_3000, "capacity_floor_t_reo"))
    reason = "court order of 2021-11-02 requires the new floor at once"
    r = activate(client, query="?override_reason=" + reason.replace(" ", "+"))
    assert r.status_code == 200 and sorted(r.json["overridden"]) == changed
    audit = client.get("/v1/audit", headers=bearer("li-legal")).json["entries"]
    [entry] = [e for e in audit if e["action"] == "override-sign-off"]
    assert entry["actor"] == "wang" and reason in entry["detail"] and all(rule in entry["detail"] for rule in changed)
    rule = changed[0]
    view = client.get(f"/v1/rules/notice@2021-floor3000/{rule}", headers=bearer("li-legal")).json
    assert view["review"]["override"]["reason"] == reason
    log_in(client, "li-legal")
    page = client.get(f"/ui/rules/notice@2021-floor3000/{rule}?lang=en")
    assert page.status_code == 200 and "Activated in an emergency without legal sign-off" in page.get_data(as_text=True)
    sign(client, rule, "li-legal")
    view = client.get(f"/v1/rules/notice@2021-floor3000/{rule}", headers=bearer("li-legal")).json
    assert "override" not in view["review"] and view["review"]["status"] == "approved"


def test_an_empty_override_reason_is_no_override(client):
    publish_draft(client)
    assert activate(client, query="?override_reason=+++").status_code == 409
