"""``?citations=refs``: citations once per response, for machine callers (docs/contract-evaluate-v1.md).

With refs, each violation cites by instrument and eid, and each provision cited appears once in the
top-level ``provisions`` map. The oracle is the default response of the same request: replacing each
reference by its entry must give it back exactly, and every reference must resolve.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import EXAMPLES, auth, example, token_config


def _scenario_bodies() -> list[dict]:
    from api.scenarios import load_library

    return [s.body for s in load_library()]


SCENARIOS = _scenario_bodies()


def _post(client, body: dict, query: str) -> dict:
    r = client.post("/v1/evaluate" + query, data=json.dumps(body, ensure_ascii=False), content_type="application/json")
    assert r.status_code == 200, r.get_data()[:300]
    out = json.loads(r.get_data())
    out.pop("decision_id")  # new for every decision
    return out


def _expanded(refs: dict) -> dict:
    """The refs response with each citation replaced by its provision, and ``provisions`` removed."""
    table = refs.pop("provisions")
    for v in refs["violations"]:
        v["citations"] = [table[c["instrument"]][c["eid"]] for c in v["citations"]]
    return refs


def _check(client, body: dict, explain: str, contract_schemas: dict) -> None:
    default = _post(client, body, "?" + explain)
    refs = _post(client, body, "?citations=refs&" + explain)
    jsonschema.validate({**refs, "decision_id": "-"}, contract_schemas["response"])
    cited = [(c["instrument"], c["eid"]) for v in refs["violations"] for c in v["citations"]]
    for v in refs["violations"]:  # no verbatim text per violation: instrument and eid only
        assert all(set(c) == {"instrument", "eid"} for c in v["citations"])
    listed = [(i, e) for i, by_eid in refs["provisions"].items() for e in by_eid]
    assert sorted(listed) == sorted(set(cited))  # every citation resolves; nothing listed that is not cited
    for instrument, eid in listed:
        entry = refs["provisions"][instrument][eid]
        assert (entry["instrument"], entry["eid"]) == (instrument, eid) and entry["text"] and entry["label"]
    assert _expanded(refs) == default


@pytest.mark.parametrize("name", EXAMPLES)
def test_refs_resolve_and_expand_to_the_default_response_on_the_examples(name, client, contract_schemas):
    _check(client, example(name), "", contract_schemas)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.sampled_from(SCENARIOS), explain=st.sampled_from(["", "explain=plain", "explain=unknowns,plain"]))
def test_refs_resolve_and_expand_to_the_default_response_on_the_scenarios(body, explain, client, contract_schemas):
    _check(client, body, explain, contract_schemas)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    enterprises=st.lists(st.sampled_from(["E1", "E2", "E3", "E4"]), min_size=1, max_size=4, unique=True),
    produced=st.lists(st.integers(0, 9000), min_size=4, max_size=4),
)
def test_a_provision_cited_by_many_violations_is_sent_once(enterprises, produced, client, contract_schemas):
    body = example("over-quota")
    facts = body["facts"]
    copies: dict[str, list] = {k: [] for k in ("enterprises", "allocations", "production", "reports")}
    for n, e in enumerate(enterprises):
        for key in copies:
            for item in facts.get(key, []):
                item = {**item, **{ref: e for ref in ("id", "enterprise", "reporter") if ref in item}}
                if key == "production":
                    item["amount_t_reo"] = produced[n]
                copies[key].append(item)
    body = {**body, "facts": {**facts, **copies}}
    _check(client, body, "", contract_schemas)
    refs = _post(client, body, "?citations=refs")
    default = _post(client, body, "")
    texts = sum(len(c["text"]) for v in default["violations"] for c in v["citations"])
    sent = sum(len(p["text"]) for by_eid in refs["provisions"].values() for p in by_eid.values())
    distinct = {(c["instrument"], c["eid"]) for v in default["violations"] for c in v["citations"]}
    assert sent == sum(len(refs["provisions"][i][e]["text"]) for i, e in distinct) <= texts


def test_default_and_other_modes_carry_no_provisions(client):
    for query in ("", "?citations=inline", "?citations=shared"):
        assert "provisions" not in _post(client, example("over-quota"), query)
    r = client.post("/v1/evaluate?citations=ref", json=example("over-quota"))
    assert r.status_code == 400 and r.json["errors"][0]["path"] == "?citations"


def test_a_decision_answered_with_refs_replays_identically(tmp_path):
    from api import create_app

    c = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "OPEN_EVALUATE": True, "TOKENS": token_config()}
    ).test_client()
    d = c.post("/v1/evaluate?citations=refs", json=example("over-quota-draft")).json
    assert d["violations"] and "provisions" in d
    r = c.post(f"/v1/decisions/{d['decision_id']}/replay", headers=auth("legal")).json
    assert r["identical"] is True and r["added"] == [] and r["removed"] == []
