"""The OpenAPI document is generated from the routes: every /v1 route is in it, it is valid OpenAPI 3, every
error it lists has the service's error body; schemathesis finds no 500 and no response breaking it (every
operation: tests/test_schemathesis.py)."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
import schemathesis
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from hypothesis import HealthCheck, given, settings

from helpers import auth, example, token_config


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from api import create_app

    db = tmp_path_factory.mktemp("openapi") / "r.db"
    return create_app({"DATABASE_URL": f"sqlite:///{db}", "OPEN_EVALUATE": True, "TOKENS": token_config()})


def test_spec_documents_the_contract(app):
    spec = app.test_client().get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    request = spec["components"]["schemas"]["EvaluateRequest"]
    assert request["required"] == ["facts"] and request["additionalProperties"] is False
    assert {"200", "400", "413"} <= set(spec["paths"]["/v1/evaluate"]["post"]["responses"])
    assert app.test_client().get("/docs").status_code == 200


def undocumented(app, spec: dict) -> list[str]:
    """The /v1 routes of the application (method and rule) that the document does not describe."""
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)  # /a/<int:n> -> /a/{n}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method.lower() not in spec["paths"].get(path, {}):
                missing.append(f"{method} {rule.rule}")
    return missing


def test_every_v1_route_is_in_the_document(app):
    spec = app.test_client().get("/openapi.json").json
    assert undocumented(app, spec) == []
    v1 = [p for p in spec["paths"] if p.startswith("/v1/")]
    assert len(v1) >= 18, v1  # the count when the document became generated


def test_a_route_without_documentation_is_noticed(tmp_path):
    from api import create_app

    other = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "TOKENS": token_config()})
    other.add_url_rule("/v1/undocumented/<int:n>", "undocumented", lambda n: "", methods=["POST"])
    spec = other.test_client().get("/openapi.json").json
    assert undocumented(other, spec) == ["POST /v1/undocumented/<int:n>"]


def test_the_document_is_valid_openapi_3(app):
    spec = app.test_client().get("/openapi.json").json
    validate(spec)  # raises with the first violation of the OpenAPI 3.0 schema


def test_every_operation_says_who_may_call_it_and_how_it_fails(app):
    spec = app.test_client().get("/openapi.json").json
    error = {"$ref": "#/components/schemas/Error"}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            where = f"{method.upper()} {path}"
            assert op["summary"] and op["tags"], where
            assert any(code.startswith("2") for code in op["responses"]), where
            if path.startswith("/v1/") and path != "/v1/echo":  # echo: a benchmark baseline, off by default
                assert {"bearer": []} in op["security"] and op["x-roles"], where
                assert {"401", "403"} <= set(op["responses"]), where
            for code, response in op["responses"].items():
                if code.startswith(("4", "5")) and path.startswith("/v1/"):
                    assert response["content"]["application/json"]["schema"] == error, (where, code)
    params = {p["name"] for p in spec["paths"]["/v1/evaluate"]["post"]["parameters"]}
    assert {"explain", "citations"} <= params
    audit = {p["name"]: p["schema"] for p in spec["paths"]["/v1/audit"]["get"]["parameters"]}
    assert audit["limit"]["maximum"] == 1000 and audit["after"]["minimum"] == 0
    body = spec["paths"]["/v1/rulesets"]["post"]["requestBody"]["content"]
    assert list(body) == ["application/yaml"]


def test_errors_keep_the_service_body(app, client):
    """flask-smorest's error handler (another body) is not installed: the service's errors are unchanged."""
    body = example("over-quota")
    body["facts"]["production"][0]["period"] = "2021-13"
    got = client.post("/v1/evaluate", json=body)
    assert got.status_code == 400 and got.json["error"] == "invalid_request"
    assert got.json["errors"] == [{"path": "facts.production.0.period", "message": "must be a month YYYY-MM"}]
    assert client.get("/v1/nowhere").json == {
        "error": "not_found",
        "message": client.get("/v1/nowhere").json["message"],
    }
    wrong = client.delete("/v1/evaluate")
    assert wrong.status_code == 405 and wrong.json["error"] == "method_not_allowed" and "POST" in wrong.headers["Allow"]
    limited = client.get("/v1/audit?limit=0", headers=auth("legal"))
    assert limited.status_code == 400 and limited.json["errors"] == [
        {"path": "?limit", "message": "must be an integer from 1 to 1000"}
    ]
    assert client.get("/v1/rulesets").status_code == 401


def test_examples_are_valid_requests_of_the_spec(app):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operation = schema["/v1/evaluate"]["POST"]
    for name in ("over-quota", "compliant-group", "late-report-and-small-smelter"):
        case = operation.Case(body=example(name), media_type="application/json")
        response = case.call()
        assert response.status_code == 200
        case.validate_response(response)


@pytest.mark.parametrize(
    "path,method,mode",
    [
        ("/v1/evaluate", "POST", GenerationMode.POSITIVE),
        ("/v1/evaluate", "POST", GenerationMode.NEGATIVE),
        ("/healthz", "GET", GenerationMode.POSITIVE),
        ("/readyz", "GET", GenerationMode.POSITIVE),
    ],
)
def test_no_server_errors_and_responses_follow_the_spec(app, path, method, mode):
    """schemathesis generates requests from the spec (valid and invalid); every response must be a
    documented status with a body matching the spec, and never a 500."""
    operation = schemathesis.openapi.from_wsgi("/openapi.json", app)[path][method]
    calls = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call()
        calls.append(response.status_code)
        assert response.status_code < 500, response.text[:500]
        # positive_data_acceptance is excluded: cross-list references (a production's enterprise must be in
        # `enterprises`) and duplicate ids are 400s the schema language cannot express.
        case.validate_response(response, excluded_checks=[positive_data_acceptance])

    check()
    assert calls
