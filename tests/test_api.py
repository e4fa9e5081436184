"""The evaluate API against the contract: status codes, error paths, JSON Schemas."""

from __future__ import annotations

import json

import jsonschema
import pytest

from helpers import EXAMPLES, example


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_and_responses_follow_the_contract(name, client, contract_schemas):
    body = example(name)
    jsonschema.validate(body, contract_schemas["request"])
    r = client.post("/v1/evaluate", data=json.dumps(body))  # no Content-Type, as curl -d sends
    assert r.status_code == 200
    jsonschema.validate(r.json, contract_schemas["response"])


def test_over_quota_example(client):
    r = client.post("/v1/evaluate", json=example("over-quota"))
    # para. 1 binds everyone (任何单位和个人); para. 4's 按指标组织生产 is the groups' duty, not cited on an enterprise
    [v] = r.json["violations"]
    assert (v["ruleset"], v["rule"], v["binding"]) == ("notice@2021", "quota.over-production", True)
    assert [c["eid"] for c in v["citations"]] == ["para_1"]
    assert v["details"] == {"activity": "mining", "produced_t_reo": 5320, "quota_t_reo": 5000, "excess_t_reo": 320}
    assert "quota.year (2021) == produced.year (2021)" in v["explanation"]
    assert r.json["summary"] == {"violations": 1, "by_severity": {"serious": 1}, "binding": 1, "non_binding": 0}


def test_over_quota_under_the_pinned_draft_example(client):
    r = client.post("/v1/evaluate", json=example("over-quota-draft"))
    # the draft Measures (Art. 10, 16), pinned for comparison, and the Regulation in force (Art. 10(2), 21)
    assert [(v["ruleset"], v["rule"]) for v in r.json["violations"]] == [
        ("measures@draft", "quota.over-production"),
        ("regulation@2024", "quota.over-production"),
    ]
    v = r.json["violations"][0]
    assert v["rule"] == "quota.over-production" and v["subject"] == {"type": "enterprise", "id": "E1"}
    assert v["details"] == {"activity": "mining", "produced_t_reo": 5320, "quota_t_reo": 5000, "excess_t_reo": 320}
    assert v["message"]["en"] == "E1 produced 5,320 t REO of mining in 2024 against a quota of 5,000 t (excess 320 t)"
    assert v["explanation"].endswith("quota.amount_t_reo (5,000) < produced.amount_t_reo (5,320))")
    assert "quota.year (2024) == produced.year (2024)" in v["explanation"]
    assert v["citations"][0]["eid"] == "art_16__para_2"
    assert (
        v["citations"][0]["text"]
        == "稀土集团所属稀土开采企业和稀土冶炼分离企业存在超指标生产等违法违规行为的，核减下一年度稀土指标。"
    )
    assert v["citations"][0]["status"] == "draft"
    # Art. 16(2) says 核减下一年度稀土指标 and fixes no amount: the consequence carries none
    cut = v["consequences"][0]
    assert cut["type"] == "next_year_quota_reduction" and set(cut) == {"type", "citation", "description"}
    assert cut["citation"] == {"instrument": "measures-draft", "eid": "art_16__para_2"}
    assert "fixes no amount" in cut["description"]["en"] and "未规定核减数量" in cut["description"]["zh"]
    assert v["facts"] == [{"list": "allocations", "index": 0}] + [{"list": "production", "index": i} for i in range(5)]
    assert v["binding"] is False  # the example pins the draft, which was never in force
    assert r.json["summary"] == {"violations": 2, "by_severity": {"serious": 2}, "binding": 1, "non_binding": 1}
    assert [rs["id"] + "@" + rs["version"] for rs in r.json["rulesets"]] == ["measures@draft", "regulation@2024"]


def test_compliant_group_has_no_violations(client):
    r = client.post("/v1/evaluate", json=example("compliant-group"))
    assert r.json["violations"] == [] and r.json["summary"] == {
        "violations": 0,
        "by_severity": {},
        "binding": 0,
        "non_binding": 0,
    }


def test_order_is_severity_then_rule_then_subject(client):
    r = client.post("/v1/evaluate", json=example("late-report-and-small-smelter"))
    assert [(v["severity"], v["rule"], v["subject"]["id"], v["period"]) for v in r.json["violations"]] == [
        ("serious", "eligibility.smelter-ineligible", "G1", "2021"),
        ("major", "reporting.group-monthly-missing", "G1", "2021-11"),
        ("minor", "reporting.group-monthly-late", "G1", "2021-10"),
    ]


def test_all_errors_with_paths(client):
    body = {
        "as_of": "2021-02-30",
        "extra": 1,
        "facts": {
            "production": [{"enterprise": "E1", "period": "2021-13", "activity": "mining", "amount_t_reo": "5"}],
            "groups": [{"id": "G1", "designated": 1}],
        },
    }
    r = client.post("/v1/evaluate", json=body)
    assert r.status_code == 400
    paths = {e["path"] for e in r.json["errors"]}
    assert paths == {
        "as_of",
        "extra",
        "facts.production.0.period",
        "facts.production.0.amount_t_reo",
        "facts.groups.0.designated",
    }


@pytest.mark.parametrize(
    "body,path",
    [
        (
            {
                "facts": {
                    "production": [{"enterprise": "E9", "period": "2021-01", "activity": "mining", "amount_t_reo": 1}]
                }
            },
            "facts.production.0.enterprise",
        ),
        ({"facts": {"enterprises": [{"id": "E1"}, {"id": "E1"}]}}, "facts.enterprises.1.id"),
        (
            {
                "facts": {
                    "reports": [{"reporter": "E1", "level": "group", "period": "2021-01"}],
                    "enterprises": [{"id": "E1"}],
                }
            },
            "facts.reports.0.reporter",
        ),
        ({"facts": {}, "rulesets": ["notice@1999"]}, "rulesets.0"),
        (
            {
                "facts": {
                    "production": [{"enterprise": "E1", "period": "2021-01", "activity": "mining", "amount_t_reo": -1}],
                    "enterprises": [{"id": "E1"}],
                }
            },
            "facts.production.0.amount_t_reo",
        ),
        ({}, "facts"),
    ],
)
def test_bad_references_and_values(client, body, path):
    r = client.post("/v1/evaluate", json=body)
    assert r.status_code == 400, r.json
    assert path in {e["path"] for e in r.json["errors"]}


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[1]",
        b"{",
        b'{"facts": {}, "as_of": NaN}',
        b"\xff\xfe{}",
        b"[" * 50000,
        b'{"facts": {"groups": [{"id": "G", "designated": Infinity}]}}',
    ],
)
def test_malformed_bodies_get_400(client, raw):
    r = client.post("/v1/evaluate", data=raw)
    assert r.status_code == 400 and r.json["error"] == "invalid_request" and r.json["errors"]


def test_oversized_body_gets_413():
    from api import create_app

    app = create_app({"MAX_CONTENT_LENGTH": 1000, "OPEN_EVALUATE": True, "RUNTIME": client_runtime()})
    r = app.test_client().post("/v1/evaluate", data=b"{" + b" " * 2000 + b"}")
    assert r.status_code == 413 and r.json["error"] == "payload_too_large"


def client_runtime():
    from api.runtime import Runtime
    from policy.instruments import INSTRUMENTS_DIR
    from policy.registry import RULESETS_DIR

    return Runtime.from_directories(RULESETS_DIR, INSTRUMENTS_DIR)


def test_unknown_route_and_method_are_json(client):
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and r.json["error"] == "not_found"
    r = client.get("/v1/evaluate")
    assert r.status_code == 405 and r.json["error"] == "method_not_allowed" and "POST" in r.headers["Allow"]


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json["status"] == "ok"


def test_unknown_is_not_false(client):
    """Leaving out capacity, licences or submission never yields a violation."""
    body = {
        "as_of": "2021-12-31",
        "facts": {
            "groups": [{"id": "G1"}],
            "enterprises": [{"id": "E1", "group": "G1"}],
            "allocations": [{"enterprise": "E1", "year": 2021, "activity": "smelting_separation", "amount_t_reo": 10}],
            "reports": [{"reporter": "G1", "level": "group", "period": "2021-03"}],
        },
    }
    r = client.post("/v1/evaluate", json=body)
    assert r.status_code == 200 and r.json["violations"] == []


def test_2022_facts_are_not_judged_by_the_2021_notice(client):
    body = {
        "as_of": "2022-12-31",
        "facts": {
            "groups": [{"id": "G1"}],
            "enterprises": [{"id": "E2", "separation_capacity_t_reo": 100}],
            "allocations": [{"enterprise": "E2", "year": 2022, "activity": "smelting_separation", "amount_t_reo": 10}],
        },
    }
    r = client.post("/v1/evaluate", json=body)
    assert r.status_code == 200 and r.json["violations"] == []
    # no instrument in force covers 2022 (the draft, never in force, is not applied): every in-force version
    # is listed as consulted, and none judged anything
    assert sorted(rs["id"] for rs in r.json["rulesets"]) == ["measures", "notice", "regulation"]
    assert all(rs["status"] == "in_force" for rs in r.json["rulesets"])
    assert {"code": "no_ruleset_for_year", "ruleset": "notice", "year": 2022} in [
        {k: w[k] for k in ("code", "ruleset", "year")} for w in r.json["warnings"]
    ]
    # pinned, the 2021 notice still judges only 2021 facts
    r = client.post("/v1/evaluate", json={**body, "rulesets": ["notice@2021"]})
    assert r.json["violations"] == []


def test_metrics_count_requests_evaluations_and_violations(client):
    client.post("/v1/evaluate", json=example("over-quota"))
    text = client.get("/metrics").get_data(as_text=True)
    assert 'repolicy_http_requests_total{endpoint="/v1/evaluate",method="POST",status="200"}' in text
    assert 'repolicy_violations_total{rule="quota.over-production",ruleset="measures@draft",severity="serious"}' in text
    assert 'repolicy_ruleset_versions_loaded{status="active"}' in text
    assert "repolicy_http_request_seconds_bucket" in text


def test_request_and_decision_ids_in_headers(client):
    r = client.post("/v1/evaluate", json=example("over-quota"), headers={"X-Request-Id": "abc-1"})
    assert r.headers["X-Request-Id"] == "abc-1" and r.headers["X-Decision-Id"] == r.json["decision_id"]


def test_metrics_are_created_once_when_first_requests_race(monkeypatch):
    """Two first requests at once in a fresh worker: the metric objects are registered once (a second
    registration raises Duplicated timeseries, a 500)."""
    import threading
    import time
    from api import metrics
    from prometheus_client import REGISTRY

    monkeypatch.setattr(metrics, "_metrics", None)
    ours = {c for n, c in REGISTRY._names_to_collectors.items() if n.startswith("repolicy_")}
    for collector in ours:
        REGISTRY.unregister(collector)
    real_counter = metrics.Counter

    def slow_counter(*args, **kwargs):
        # The sleep stays: it is the race under test (a slow first registration, which the other first requests
        # overtake). The test waits on the threads themselves (join), not on a second sleep.
        time.sleep(0.02)
        return real_counter(*args, **kwargs)

    monkeypatch.setattr(metrics, "Counter", slow_counter)
    barrier, errors = threading.Barrier(8), []

    def first() -> None:
        barrier.wait()
        try:
            metrics._m()
        except Exception as exc:  # pragma: no cover - the failure this test is about
            errors.append(exc)

    threads = [threading.Thread(target=first) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and metrics._m() is metrics._m()
