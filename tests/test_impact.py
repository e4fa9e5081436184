"""Impact preview: findings compared by what they say, as a job over recorded decisions (SQLite).

The oracle is the notice's text (工信部联原〔2021〕…, smelting and separation enterprises using a banned
process and under the capacity floor get no quota): a smelter with a banned process and capacity c is found
ineligible under a floor F exactly when c < F.
"""

from __future__ import annotations


import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import FLOOR_3000, NOTICE, auth, example, token_config, wait_until

RULE = "eligibility.smelter-ineligible"
SAME_RULES = NOTICE.replace('version: "2021"', 'version: "2021-renamed"')
FLOOR_1000 = NOTICE.replace('version: "2021"', 'version: "2021-floor1000"').replace(
    "    value: 2000\n    unit: t_reo_per_year", "    value: 1000\n    unit: t_reo_per_year"
)


def make_app(db, **extra):
    from api import create_app

    return create_app({"DATABASE_URL": f"sqlite:///{db}", "OPEN_EVALUATE": True, "TOKENS": token_config(), **extra})


def smelter(n: int, capacity: int) -> dict:
    """One group's smelter with a banned process and the given capacity, allocated a 2021 quota."""
    g, e = f"G{n}", f"E{n}"
    return {
        "as_of": "2021-12-31",
        "facts": {
            "groups": [{"id": g}],
            "enterprises": [
                {
                    "id": e,
                    "group": g,
                    "activities": ["smelting_separation"],
                    "banned_process": True,
                    "separation_capacity_t_reo": capacity,
                }
            ],
            "allocations": [
                {"enterprise": e, "group": g, "year": 2021, "activity": "smelting_separation", "amount_t_reo": 500}
            ],
        },
    }


def record(client, bodies: list[dict]) -> list[str]:
    ids = []
    for body in bodies:
        r = client.post("/v1/evaluate", json=body)
        assert r.status_code == 200, r.json
        ids.append(r.json["decision_id"])
    return ids


def run_job(client, candidate: str, limit: str = "all", reader=None) -> dict:
    r = client.post(f"/v1/rulesets/impact?limit={limit}", data=candidate, headers=auth("regulator"))
    assert r.status_code == 202, r.json
    assert r.headers["Location"] == f"/v1/rulesets/impact/{r.json['job_id']}"

    def finished() -> dict | None:
        state = (reader or client).get(r.headers["Location"], headers=auth("regulator")).json
        assert 0 <= state["done"] <= state["total"] == r.json["total"]
        return state if state["status"] in ("done", "failed") else None

    state = wait_until(finished, 120, interval=0.1)
    assert state and state["status"] == "done", state
    assert state["done"] == state["total"]
    return {**r.json, **state["result"]}


def expected(capacities: list[int], ids: list[str], old_floor: int, new_floor: int):
    """Per decision, what the text says changes: (added, removed, restated) counts of the smelter finding."""
    out = {}
    for decision_id, c in zip(ids, capacities):
        before, after = c < old_floor, c < new_floor
        if before and after:
            out[decision_id] = (0, 0, 1)  # still ineligible; the finding quotes the new floor
        elif before != after:
            out[decision_id] = (int(after), int(before), 0)
    return out


def test_an_unchanged_rule_under_a_new_version_changes_nothing(tmp_path):
    c = make_app(tmp_path / "r.db").test_client()
    ids = record(
        c,
        [
            example("late-report-and-small-smelter"),
            example("over-quota"),
            example("compliant-group"),
            smelter(1, 1500),
            smelter(2, 2500),
        ],
    )
    report = run_job(c, SAME_RULES)
    assert report["candidate"] == "notice@2021-renamed" and report["replaces"] == ["notice@2021"]
    assert report["decisions_examined"] + report["decisions_skipped_pinned"] == len(ids)
    assert report["decisions_examined"] >= 4 and report["decisions_changed"] == 0
    assert report["findings_added"] == report["findings_removed"] == report["findings_restated"] == 0
    assert report["changed"] == [] and report["by_rule"] == []


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    capacities=st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=8),
    new_floor=st.sampled_from([1000, 3000]),
)
def test_a_changed_floor_adds_removes_and_restates_exactly_the_findings_the_text_implies(
    tmp_path_factory, capacities, new_floor
):
    c = make_app(tmp_path_factory.mktemp("impact") / "r.db").test_client()
    capacities = capacities + [1999, 2000, new_floor - 1, new_floor]  # the boundaries of both floors
    ids = record(c, [smelter(n, cap) for n, cap in enumerate(capacities)])
    report = run_job(c, FLOOR_3000 if new_floor == 3000 else FLOOR_1000)
    want = expected(capacities, ids, 2000, new_floor)
    got = {ch["decision_id"]: (len(ch["added"]), len(ch["removed"]), len(ch["restated"])) for ch in report["changed"]}
    assert got == want
    assert report["decisions_examined"] == len(ids) and report["decisions_changed"] == len(want)
    for ch in report["changed"]:
        for f in ch["added"] + ch["removed"] + [p["after"] for p in ch["restated"]]:
            assert (f["ruleset"], f["rule"], f["period"]) == ("notice", RULE, "2021")
        for f in ch["added"]:
            assert f["details"]["floor_t_reo"] == new_floor
        for f in ch["removed"]:
            assert f["details"]["floor_t_reo"] == 2000
        for p in ch["restated"]:
            assert (p["before"]["details"]["floor_t_reo"], p["after"]["details"]["floor_t_reo"]) == (2000, new_floor)
            assert p["before"]["subject"] == p["after"]["subject"]
    totals = [sum(v[i] for v in want.values()) for i in range(3)]
    assert [report["findings_added"], report["findings_removed"], report["findings_restated"]] == totals
    assert report["by_rule"] == (
        [{"ruleset": "notice", "rule": RULE, "added": totals[0], "removed": totals[1], "restated": totals[2]}]
        if any(totals)
        else []
    )


def test_the_process_pool_gives_the_same_report_as_one_process(tmp_path, monkeypatch):
    import api.impact

    app = make_app(tmp_path / "r.db")
    c = app.test_client()
    capacities = [500 * k for k in range(1, 9)]
    record(
        c, [smelter(n, cap) for n, cap in enumerate(capacities)] + [{**smelter(99, 100), "rulesets": ["notice@2021"]}]
    )
    inline = run_job(c, FLOOR_3000)
    app.config.update(IMPACT_INLINE_MAX=0, IMPACT_WORKERS=2)
    monkeypatch.setattr(api.impact, "PAGE", 3)
    pooled = run_job(c, FLOOR_3000)
    drop = ("job_id", "seconds", "location")
    assert {k: v for k, v in pooled.items() if k not in drop} == {k: v for k, v in inline.items() if k not in drop}
    assert pooled["decisions_examined"] == 8 and pooled["decisions_skipped_pinned"] == 1
    assert pooled["decisions_changed"] == len(expected(capacities, [str(n) for n in range(8)], 2000, 3000))


def test_limit_takes_the_newest_decisions(tmp_path):
    c = make_app(tmp_path / "r.db").test_client()
    ids = record(c, [smelter(n, 2500) for n in range(5)])
    report = run_job(c, FLOOR_3000, limit="2")
    assert report["total"] == 2 and report["decisions_examined"] == 2
    assert {ch["decision_id"] for ch in report["changed"]} == set(ids[-2:])


def test_any_instance_on_the_database_answers_for_the_job(tmp_path):
    first = make_app(tmp_path / "r.db").test_client()
    other = make_app(tmp_path / "r.db").test_client()  # another worker or instance
    record(first, [smelter(1, 2500)])
    report = run_job(first, FLOOR_3000, reader=other)
    assert report["decisions_changed"] == 1


def test_bad_requests_are_refused(tmp_path):
    c = make_app(tmp_path / "r.db").test_client()
    assert c.post("/v1/rulesets/impact", data=FLOOR_3000, headers=auth("legal")).status_code == 403
    r = c.post("/v1/rulesets/impact?limit=abc", data=FLOOR_3000, headers=auth("regulator"))
    assert r.status_code == 400 and r.json["errors"][0]["path"] == "?limit"
    assert c.post("/v1/rulesets/impact?limit=0", data=FLOOR_3000, headers=auth("regulator")).status_code == 400
    r = c.post(
        "/v1/rulesets/impact",
        data=FLOOR_3000.replace("severity: minor", "severity: tiny", 1),
        headers=auth("regulator"),
    )
    assert r.status_code == 422 and r.json["issues"][0]["rule"] == "allocation.split-late"
    assert c.get("/v1/rulesets/impact/nope", headers=auth("regulator")).status_code == 404


@pytest.mark.parametrize(
    "pair",
    [
        (
            {
                "ruleset": "notice@2021",
                "rule": "r",
                "subject": {"type": "group", "id": "G1"},
                "period": "2021",
                "details": {"a": 1},
            },
            {
                "ruleset": "notice@2022-x",
                "rule": "r",
                "subject": {"type": "group", "id": "G1"},
                "period": "2021",
                "details": {"a": 1},
            },
        )
    ],
)
def test_a_finding_is_the_same_whatever_version_states_it(pair):
    from policy.impact import compare

    before, after = pair
    assert not compare([before], [after])
    assert compare([before], [{**after, "details": {"a": 2}}]).restated
    assert compare([before], [{**after, "period": "2022"}]).added


def test_cli_follows_a_pooled_job_on_a_gunicorn_server(tmp_path):
    """Two gunicorn workers, the pool forced on: the CLI's JSON report is what the text implies."""
    import json
    from helpers import repolicy
    from servers import Server

    server = Server(
        {
            "REPOLICY_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
            "REPOLICY_DEV_MODE": "1",
            "REPOLICY_OPEN_EVALUATE": "1",
            "LOG_DIR": str(tmp_path),
            "REPOLICY_IMPACT_INLINE_MAX": "0",
            "REPOLICY_IMPACT_WORKERS": "2",
        }
    )
    try:
        capacities = [1500, 2500, 3500, 2999, 1999]
        for n, cap in enumerate(capacities):
            status, _ = server.request("POST", "/v1/evaluate", smelter(n, cap))
            assert status == 200
        (tmp_path / "floor3000.yaml").write_text(FLOOR_3000, encoding="utf-8")
        reports = []

        def examined_all() -> bool:
            r = repolicy("impact", "floor3000.yaml", "--limit", "all", "--format", "json", server=server, cwd=tmp_path)
            assert r.returncode == 0, r.stdout + r.stderr
            reports.append(json.loads(r.stdout))
            return reports[-1]["decisions_examined"] == len(capacities)

        # each worker's decision log writes within milliseconds: the report examines them all once written
        assert wait_until(examined_all, 10, interval=0.2), reports[-1]
        report = reports[-1]
        assert (report["findings_added"], report["findings_removed"], report["findings_restated"]) == (2, 0, 2)
        assert report["candidate"] == "notice@2021-floor3000" and report["replaces"] == ["notice@2021"]
        for _ in range(4):  # whichever worker answers
            status, state = server.request(
                "GET", f"/v1/rulesets/impact/{report['job_id']}", headers={"Authorization": "Bearer dev-regulator"}
            )
            assert status == 200 and state["status"] == "done" and state["result"]["findings_added"] == 2
    finally:
        server.stop()


def test_a_database_outage_is_a_503_not_a_500(tmp_path):
    import policy.store

    app = make_app(tmp_path / "r.db")
    c = app.test_client()
    record(c, [smelter(1, 2500)])
    report = run_job(c, FLOOR_3000)
    store = app.extensions["repolicy"].store
    store.engine.dispose()
    policy.store.impact_jobs.drop(store.engine)  # the table is gone: every query on it fails
    r = c.get(f"/v1/rulesets/impact/{report['job_id']}", headers=auth("regulator"))
    assert r.status_code == 503 and r.json["error"] == "database_unavailable"
