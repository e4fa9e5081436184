"""schemathesis over every operation of the OpenAPI document, in process (the WSGI application).

Two ways in: each operation called once on resources that exist (a logged decision, a published instrument
revision, an impact job, a shipped rule...), so every success response is checked against its schema; then
requests generated from the document, valid and invalid, with a token of a role the operation admits
(``x-roles``). Every response must be a documented status with the documented content type, headers and
body, never a 500; invalid input must be refused.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from helpers import TOKENS, example, token_config

# generated requests per operation and mode: the default run stays under a minute on an idle machine;
# a deeper search: REPOLICY_SCHEMATHESIS_EXAMPLES=200
EXAMPLES = int(os.environ.get("REPOLICY_SCHEMATHESIS_EXAMPLES", "12"))
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from api import create_app

    db = tmp_path_factory.mktemp("schemathesis") / "r.db"
    return create_app({"DATABASE_URL": f"sqlite:///{db}", "TOKENS": token_config()})


@pytest.fixture(scope="module")
def spec(app) -> dict:
    return app.test_client().get("/openapi.json").json


@pytest.fixture(scope="module")
def schema(app):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    # the token is the test's (token_headers): the Authorization header is neither generated nor made invalid
    schema.config.generation.update(with_security_parameters=False)
    return schema


def token_headers(spec: dict, path: str, method: str) -> dict[str, str]:
    """A bearer token of the first role the operation admits (none for a public operation)."""
    roles = spec["paths"][path][method.lower()].get("x-roles") or []
    if not roles:
        return {}
    token = next(tok for tok, role in TOKENS.items() if role == roles[0])
    return {"Authorization": f"Bearer {token}"}


def negatable(spec: dict, path: str, method: str) -> bool:
    """Whether a request to the operation can be made invalid: a query parameter, a body or a path parameter
    that is not any text (the token is not generated, and a path parameter of text is just another name)."""
    op = spec["paths"][path][method.lower()]
    path_params = spec["paths"][path].get("parameters", [])
    return bool(
        op.get("parameters") or "requestBody" in op or any(p["schema"].get("type") != "string" for p in path_params)
    )


def existing_resources(app) -> dict[str, dict]:
    """Path parameters that name things the service holds, made through the API itself."""
    client = app.test_client()
    regulator = {"Authorization": f"Bearer {next(t for t, r in TOKENS.items() if r == 'regulator')}"}
    caller = {"Authorization": f"Bearer {next(t for t, r in TOKENS.items() if r == 'caller')}"}
    decision = client.post("/v1/evaluate", json=example("over-quota"), headers=caller)
    assert decision.status_code == 200, decision.text
    runtime = app.extensions["repolicy"]
    rs = next(r for r in runtime.registry.all() if r.id == "notice")
    instrument = runtime.instruments[rs.instrument]
    text = (app.config["INSTRUMENTS_DIR"] / f"{instrument.id}.yaml").read_bytes()
    published = client.post("/v1/instruments", data=text, headers=regulator)
    assert published.status_code in (200, 201), published.text
    job = client.post("/v1/rulesets/impact", data=rs.source.encode("utf-8"), headers=regulator)
    assert job.status_code == 202, job.text
    return {
        "decision_id": {"decision_id": decision.json["decision_id"]},
        "rid": {"rid": rs.id, "version": rs.version},
        "instrument_id": {"instrument_id": instrument.id},
        "revision": {"instrument_id": instrument.id, "revision": published.json["revision"]},
        "eid": {"instrument_id": instrument.id, "eid": next(iter(instrument.provisions))},
        "job_id": {"job_id": job.json["job_id"]},
        "rule_id": {"ref": rs.ref, "rule_id": rs.rules[0].id},
    }


def parameters_for(path: str, resources: dict[str, dict]) -> dict:
    """The existing resource whose parameters the path takes (the most specific one)."""
    for name in ("revision", "eid", "rule_id", "rid", "job_id", "decision_id", "instrument_id"):
        if "{" + name + "}" in path:
            return resources[name]
    return {}


def test_every_operation_answers_as_documented_on_existing_resources(app, spec, schema):
    """One call per operation on what exists: the success path of each is checked against its schema."""
    resources = existing_resources(app)
    bodies = {
        ("/v1/evaluate", "POST"): example("compliant-group"),
        ("/v1/rules/{ref}/{rule_id}/approvals", "POST"): {"comment": "checked against the text"},
    }
    statuses = {}
    for operation in schema.get_all_operations():
        op = operation.ok()
        key = (op.path, op.method.upper())
        if key[0] == "/v1/echo":
            continue  # a benchmark baseline, off by default (a documented 404)
        kwargs = {"path_parameters": parameters_for(op.path, resources)} if "{" in op.path else {}
        if key in bodies:
            kwargs.update(body=bodies[key], media_type="application/json")
        elif op.body:  # YAML bodies (publishing): a shipped text, already stored
            continue
        case = op.Case(**kwargs)
        response = case.call(headers=token_headers(spec, op.path, op.method))
        case.validate_response(response, checks=CONFORMANCE)
        statuses[f"{key[1]} {key[0]}"] = response.status_code
    failing = {k: v for k, v in statuses.items() if not 200 <= v < 300}
    # with maker-checker off a legal reviewer's sign-off is a 201; every read finds what was made
    assert not failing, failing
    assert len(statuses) >= 15, statuses


def test_publishing_operations_answer_as_documented(app, spec, schema):
    """The YAML-bodied operations, on the shipped texts (stored already: 200) and on a text that is not YAML."""
    runtime = app.extensions["repolicy"]
    rs = next(r for r in runtime.registry.all() if r.id == "notice")
    instrument_text = (app.config["INSTRUMENTS_DIR"] / f"{rs.instrument}.yaml").read_text(encoding="utf-8")
    client = app.test_client()
    for path, text, ok in (
        ("/v1/rulesets", rs.source, 200),
        ("/v1/instruments", instrument_text, 200),
        ("/v1/rulesets/impact", rs.source, 202),
        ("/v1/rulesets", "a: [", 422),
    ):
        # sent as the file's bytes (schemathesis would send the text as a YAML string scalar)
        response = client.post(
            path, data=text.encode("utf-8"), content_type="application/yaml", headers=token_headers(spec, path, "POST")
        )
        assert response.status_code == ok, (path, response.text[:300])
        schema[path]["POST"].Case(body=text, media_type="application/yaml").validate_response(
            response, checks=CONFORMANCE
        )


def generated_failures(spec: dict, schema, mode: GenerationMode, paths=None) -> tuple[dict[str, str], int]:
    """Generated requests to each operation (of ``paths``, default all): what failed, and how many were run."""
    checks = CONFORMANCE + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])
    failures: dict[str, str] = {}
    seen = 0
    for operation in schema.get_all_operations():
        op = operation.ok()
        if paths is not None and op.path not in paths:
            continue
        headers = token_headers(spec, op.path, op.method)
        seen += 1
        if mode is GenerationMode.NEGATIVE and not negatable(spec, op.path, op.method):
            continue  # nothing to make invalid (/healthz, /v1/instruments/{id}): the positive run covers it

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            response = case.call(headers=headers)
            case.validate_response(response, checks=checks, headers=headers)

        try:
            check()
        except Exception as exc:  # every operation is tried; the report lists each failing one
            failures[f"{op.method.upper()} {op.path}"] = str(exc)[:1500]
    return failures, seen


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_to_every_operation(spec, schema, mode):
    """Generated requests, valid and invalid, to every operation: no 500, every response as documented,
    and (negative mode) invalid input refused with a 4xx."""
    failures, seen = generated_failures(spec, schema, mode)
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    assert seen == sum(len([m for m in item if m != "parameters"]) for item in spec["paths"].values())


@pytest.fixture(scope="module")
def postgres_app():
    from api import create_app
    from pg import Postgres

    server = Postgres()
    try:
        yield create_app({"DATABASE_URL": server.url, "TOKENS": token_config()})
    finally:
        server.stop()


def test_generated_lookups_on_postgresql_without_a_server_error(postgres_app):
    """The operations that look a parameter up in the database, on PostgreSQL, which refuses what SQLite takes:
    NUL in text (500s, and 503s for decisions and impact jobs), numbers over 2**31-1 against an INTEGER column
    (?after of the audit log, a revision number: 500s)."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", postgres_app)
    schema.config.generation.update(with_security_parameters=False)
    spec = postgres_app.test_client().get("/openapi.json").json
    paths = [
        p
        for p in spec["paths"]
        if p.startswith(
            (
                "/v1/rulesets/{",
                "/v1/decisions/",
                "/v1/rulesets/impact/{",
                "/v1/instruments/{instrument_id}/revisions",
                "/v1/audit",
            )
        )
    ]
    failures, seen = generated_failures(spec, schema, GenerationMode.POSITIVE, paths)
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    assert seen == 8
    client, headers = postgres_app.test_client(), token_headers(spec, "/v1/decisions/{decision_id}", "GET")
    for path in (
        "/v1/decisions/a%00b",
        "/v1/rulesets/notice/a%00b",
        "/v1/instruments/a%00b/revisions",
        "/v1/rulesets/impact/a%00b",
    ):
        got = client.get(
            path,
            headers=headers if "impact" not in path else token_headers(spec, "/v1/rulesets/impact/{job_id}", "GET"),
        )
        assert got.status_code == 404 and got.json["error"] == "not_found", (path, got.text)
    beyond = client.get(f"/v1/audit?after={2**31}", headers=headers)  # was a 500 on PostgreSQL
    assert beyond.status_code == 400 and beyond.json["errors"][0]["path"] == "?after", beyond.text


def test_a_revision_number_beyond_the_database_integers_is_not_found(app):
    """Found by schemathesis: /revisions/109304166986901723646263296 was a 500 (SQLite: int too large), and on
    PostgreSQL any number over 2**31-1 (an INTEGER column)."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {next(t for t, r in TOKENS.items() if r == 'legal')}"}
    for n in (2**31, 2**63, 109304166986901723646263296, 0):
        got = client.get(f"/v1/instruments/notice-2021/revisions/{n}", headers=headers)
        assert got.status_code == 404 and got.json["error"] == "not_found", (n, got.text)
