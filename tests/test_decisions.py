"""Decision log: every evaluation recorded; replay under the exact versions; faults (impact: test_impact)."""

from __future__ import annotations


from helpers import FLOOR_3000, SMELTER_2500, auth, example, token_config


def make_app(tmp_path, **extra):
    from api import create_app

    return create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "OPEN_EVALUATE": True, "TOKENS": token_config(), **extra}
    )


def test_logged_decision_replays_identically_after_a_new_version_is_activated(tmp_path):
    c = make_app(tmp_path).test_client()
    first = c.post("/v1/evaluate", json=SMELTER_2500).json
    logged = c.get(f"/v1/decisions/{first['decision_id']}", headers=auth("legal")).json
    assert logged["input"] == SMELTER_2500 and logged["result"] == first
    assert {(r["id"], r["version"]) for r in logged["rulesets"]} == {("notice", "2021")}  # the draft only if pinned

    assert c.post("/v1/rulesets?activate=true", data=FLOOR_3000, headers=auth("regulator")).status_code == 201
    now = c.post("/v1/evaluate", json=SMELTER_2500).json
    assert [v["rule"] for v in now["violations"]] == ["eligibility.smelter-ineligible"]  # new version judges

    r = c.post(f"/v1/decisions/{first['decision_id']}/replay", headers=auth("legal")).json
    assert r["identical"] is True and r["added"] == [] and r["removed"] == []
    assert set(r["rulesets"]) == {"notice@2021"}


def test_replay_reports_difference_keys(tmp_path):
    c = make_app(tmp_path).test_client()
    d = c.post("/v1/evaluate", json=example("over-quota")).json
    r = c.post(f"/v1/decisions/{d['decision_id']}/replay", headers=auth("regulator")).json
    assert r["identical"] is True and r["replay"]["summary"] == d["summary"]
    assert c.post("/v1/decisions/nope/replay", headers=auth("legal")).status_code == 404
    assert c.get(f"/v1/decisions/{d['decision_id']}", headers=auth("caller")).status_code == 403


def test_digest_only_mode_keeps_no_facts(tmp_path):
    c = make_app(tmp_path, DECISION_LOG="digest").test_client()
    d = c.post("/v1/evaluate", json=SMELTER_2500).json
    logged = c.get(f"/v1/decisions/{d['decision_id']}", headers=auth("legal")).json
    assert logged["input"] is None and logged["input_digest"].startswith("sha256:")
    assert c.post(f"/v1/decisions/{d['decision_id']}/replay", headers=auth("legal")).status_code == 409


def test_database_down_keeps_evaluating_and_retries_the_log(tmp_path):
    app = make_app(tmp_path)
    c = app.test_client()
    log = app.extensions["repolicy_decisions"]
    store = log.store
    real = store.record_decisions

    def refuse(items):
        raise ConnectionError("database unavailable")

    store.record_decisions = refuse
    ids = [c.post("/v1/evaluate", json=SMELTER_2500).json["decision_id"] for _ in range(3)]
    assert log.pending == 3 and log.lost == 0
    store.record_decisions = real
    assert log.flush() is True and log.pending == 0
    assert all(store.decision(i) is not None for i in ids)


def test_database_down_at_start_up_still_serves_the_shipped_rulesets(tmp_path):
    from api import create_app
    from helpers import pg_unreachable_url

    app = create_app({"DATABASE_URL": pg_unreachable_url(), "OPEN_EVALUATE": True})
    c = app.test_client()
    r = c.post("/v1/evaluate", json=example("over-quota"))
    assert r.status_code == 200 and r.json["summary"]["violations"] == 1
    ready = c.get("/readyz").json
    assert ready["status"] == "ready" and ready["database"].startswith("database unavailable at start-up")


def test_the_log_keeps_the_bytes_received_and_sent(tmp_path):
    """The input stored is the body as the caller wrote it, its digest that of those bytes; the result is
    the response body as sent (read back as the same JSON)."""
    import hashlib
    import json

    from sqlalchemy import text

    app = make_app(tmp_path)
    c = app.test_client()
    sent = json.dumps(SMELTER_2500, indent=1, ensure_ascii=True).encode()  # not how the service would write it
    response = c.post("/v1/evaluate", data=sent, content_type="application/json")
    decision_id = response.json["decision_id"]
    assert app.extensions["repolicy_decisions"].flush()
    with app.extensions["repolicy"].store.engine.connect() as conn:
        row = conn.execute(
            text("SELECT input, input_digest, result FROM decisions WHERE decision_id = :d"), {"d": decision_id}
        ).one()
    assert row.input == sent.decode() and row.input_digest == "sha256:" + hashlib.sha256(sent).hexdigest()
    assert row.result.encode() + b"\n" == response.data
    logged = c.get(f"/v1/decisions/{decision_id}", headers=auth("legal")).json
    assert logged["input"] == SMELTER_2500 and logged["result"] == response.json
