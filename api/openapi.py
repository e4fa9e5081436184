"""``GET /openapi.json`` generated from the marshmallow schemas (apispec), and ``GET /docs``, an
interactive page (Swagger UI served from the installed package: no external network)."""
from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, jsonify, send_from_directory

from api import schemas as S

bp = Blueprint("openapi", __name__)

_JSON = "application/json"


def _resp(description: str, schema: str | None = "Error") -> dict:
    out: dict = {"description": description}
    if schema:
        out["content"] = {_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    return out


def build_spec() -> dict:
    plugin = MarshmallowPlugin()
    spec = APISpec(title="Rare-earth quota policy service", version="1.0.0", openapi_version="3.0.3",
                   plugins=[plugin],
                   info={"description": "Evaluates facts against versioned rulesets encoding China's rare-earth "
                                        "quota law; every violation cites the provision it breaches, verbatim."})
    for field_cls, oa_type in ((S.StrictInteger, "integer"), (S.StrictNumber, "number"), (S.StrictBoolean, "boolean"),
                               (S.StrictString, "string"), (S.DateText, "string")):
        plugin.map_to_openapi_type(field_cls, oa_type, None)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("EvaluateRequest", schema=S.EvaluateRequestSchema)
    spec.components.schema("EvaluateResponse", schema=S.EvaluateResponseSchema)
    spec.components.schema("Error", schema=S.ErrorSchema)
    errors = {"400": _resp("Malformed facts: every error with its path"),
              "401": _resp("A bearer token is required"), "403": _resp("The token's role may not do this"),
              "405": _resp("Method not allowed"), "413": _resp("Body or fact count over the limit")}
    spec.path(path="/v1/evaluate", operations={"post": {
        "summary": "Evaluate facts; returns violations with verbatim citations",
        "security": [{}, {"bearer": []}],
        "parameters": [{"name": "explain", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["unknowns", "plain", "unknowns,plain", "plain,unknowns"]},
                        "description": "unknowns: also list the rules that missing facts kept from deciding, "
                                       "with the request fields that were missing; plain: each violation also "
                                       "gets explanation_plain, its conditions in plain Chinese and English with "
                                       "the values compared"},
                       {"name": "citations", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["inline", "shared", "refs"]},
                        "description": "shared: each provision's text once, in citation_texts, referred to by "
                                       "text_ref (the default above 1,000 violations); inline: in every citation "
                                       "(docs/contract-evaluate-v1.md, large responses); refs: each citation by "
                                       "instrument and eid only, each provision once in provisions[instrument][eid]"}],
        "requestBody": {"required": True, "content": {_JSON: {"schema": {"$ref": "#/components/schemas/EvaluateRequest"}}}},
        "responses": {"200": _resp("Violations found (possibly none)", "EvaluateResponse"), **errors}}})
    for path, summary in (("/healthz", "Liveness"), ("/readyz", "Readiness: rulesets compiled, database reachable")):
        spec.path(path=path, operations={"get": {"summary": summary, "responses": {
            "200": {"description": summary, "content": {_JSON: {"schema": {"type": "object"}}}},
            **({"503": {"description": "Not ready", "content": {_JSON: {"schema": {"type": "object"}}}}}
               if path == "/readyz" else {})}}})
    spec.path(path="/metrics", operations={"get": {"summary": "Prometheus metrics", "responses": {
        "200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}})
    yaml_body = {"required": True, "content": {"application/yaml": {"schema": {"type": "string"}}}}
    secured = [{"bearer": []}]
    spec.path(path="/v1/rulesets", operations={
        "get": {"summary": "Ruleset versions (legal, regulator)", "security": secured, "responses": {
            "200": {"description": "Versions", "content": {_JSON: {"schema": {"type": "object"}}}}, **errors}},
        "post": {"summary": "Publish a version (regulator): validated, compiled, its own scenarios run",
                 "security": secured, "requestBody": yaml_body,
                 "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}}
                                for n in ("activate", "comment", "file")],
                 "responses": {"201": {"description": "Stored", "content": {_JSON: {"schema": {"type": "object"}}}},
                               "200": {"description": "Already stored", "content": {_JSON: {"schema": {"type": "object"}}}},
                               "409": _resp("Version exists with other content"),
                               "422": _resp("Does not validate (issues with file, line, column, rule)"), **errors}}})
    for path, summary in (("/v1/rulesets/{rid}/{version}", "One version with its YAML (legal, regulator)"),):
        spec.path(path=path, operations={"get": {"summary": summary, "security": secured,
            "parameters": [{"name": "rid", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "The version", "content": {_JSON: {"schema": {"type": "object"}}}},
                          "404": _resp("No such version"), **errors}}})
    spec.path(path="/v1/rulesets/{rid}/{version}/activate", operations={"post": {
        "summary": "Activate a version (regulator); also the way to roll back", "security": secured,
        "parameters": [{"name": "rid", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "Activated", "content": {_JSON: {"schema": {"type": "object"}}}},
                      "404": _resp("No such version"), "422": _resp("Cannot be served"), **errors}}})
    spec.path(path="/v1/audit", operations={"get": {"summary": "Audit log (legal, regulator)", "security": secured,
        "parameters": [{"name": "after", "in": "query", "required": False,
                        "schema": {"type": "integer", "minimum": 0, "maximum": 2 ** 63 - 1, "default": 0},
                        "description": "entries with an id after this one"},
                       {"name": "limit", "in": "query", "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}],
        "responses": {"200": {"description": "Entries", "content": {_JSON: {"schema": {"type": "object"}}}}, **errors}}})
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(build_spec())


@bp.get("/docs")
def docs() -> Response:
    return Response(_DOCS_PAGE, mimetype="text/html")


@bp.get("/docs/static/<path:name>")
def docs_static(name: str):
    import swagger_ui_bundle
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, name)


_DOCS_PAGE = """<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>稀土总量调控规则服务 API · Rare-earth quota policy API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>"""
# A file, not an inline script: the pages' Content-Security-Policy allows scripts from the site only.
_DOCS_INIT = 'window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});\n'


@bp.get("/docs/init.js")
def docs_init() -> Response:
    return Response(_DOCS_INIT, mimetype="text/javascript")


def install(app: Flask) -> None:
    app.register_blueprint(bp)
