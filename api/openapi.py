"""The OpenAPI document, generated from the routes themselves, at ``GET /openapi.json``; ``GET /docs``, an
interactive page (Swagger UI served from the installed package: no external network).

Every /v1 blueprint is a flask-smorest :class:`Blueprint`, registered through the :class:`ServiceApi` that
:func:`install` returns, and each view carries its own documentation beside its route:

- ``Blueprint.alt_response(status, schema=..., success=True)``: the success response.  Documentation only:
  the view's response is never re-serialised through the schema, so its bytes (key order, every field) are
  what the view writes with the project's JSON provider;
- :func:`operation`: the roles (the view is wrapped in ``api.auth.require`` with them, so the document and
  the check cannot differ), the query parameters, the request body and the error responses that occur,
  each with the service's error body (``Error``).

flask-smorest's own error handler (another error body) is not installed: every error leaves through
``api.errors`` as before.  No view uses ``Blueprint.arguments`` (webargs' validation answers 422 with its
own body): the views keep their validation and its 400s with ``errors[].path``.  tests/test_openapi.py
checks that every /v1 rule of the application is in the document and that the document is valid OpenAPI 3.
"""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Callable, Iterable, Mapping

from flask import Blueprint, Flask, Response, current_app, jsonify, send_from_directory
from flask_smorest import Api
from flask_smorest import Blueprint as ApiBlueprint
from flask_smorest.utils import load_info_from_docstring
from marshmallow import Schema
from werkzeug.routing import BaseConverter

from api import schemas as S
from api.auth import require

bp = Blueprint("openapi", __name__)

JSON = "application/json"
YAML = "application/yaml"
BEARER = [{"bearer": []}]
BEARER_OR_NONE = [{}, {"bearer": []}]  # open evaluation (OPEN_EVALUATE): no token needed then

# What each error status means, as the service answers it (api/errors.py); an operation may say more.
ERRORS: dict[int, str] = {
    400: "Invalid request: every error with its path in errors[].path (a body field such as "
    "facts.production.3.period, or a query parameter such as ?limit)",
    401: "A bearer token is required (WWW-Authenticate: Bearer)",
    403: "The token's role may not do this",
    404: "Not found",
    408: "The body did not arrive within REPOLICY_READ_TIMEOUT seconds (the service's server, api.serve)",
    409: "Conflict with what the registry holds",
    413: "Request body over the configured limit (chunked or not)",
    422: "The ruleset or instrument does not validate: issues with file, line, column and rule",
    429: "Over the caller's rate limit (REPOLICY_RATE_LIMIT; Retry-After says when to try again)",
    503: "The registry database is not configured or unavailable: try again later",
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}


def query(name: str, description: str, schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An optional query parameter (a string unless ``schema`` says otherwise)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": dict(schema or {"type": "string"}),
    }


def comma_separated(options: Iterable[str]) -> dict[str, str]:
    """The schema of a comma-separated choice among ``options`` (``?explain=unknowns,plain``), spaces around
    each allowed, as the view reads it."""
    one = "(" + "|".join(re.escape(o) for o in options) + ")"
    return {"type": "string", "pattern": rf"^\s*{one}\s*(,\s*{one}\s*)*$"}


def request_content(
    content_type: str, schema: type[Schema] | Mapping[str, Any], description: str, required: bool = True
) -> dict[str, Any]:
    """A request body: a marshmallow schema (documented, by reference; the view validates) or a JSON schema."""
    return {"required": required, "description": description, "content": {content_type: {"schema": schema}}}


def operation(
    *roles: str,
    open_if: str | None = None,
    errors: Mapping[int, str | None] | None = None,
    parameters: Iterable[Mapping[str, Any]] = (),
    request_body: Mapping[str, Any] | None = None,
    alternatives: Mapping[int, Mapping[str, Any]] | None = None,
) -> Callable:
    """A view's access check and its documentation in one decorator (below the route, above the view).

    ``roles``: the token roles admitted (``api.auth.require``; none: a public operation);
    ``errors``: status -> what it means here (None: the general meaning in :data:`ERRORS`); 401 and 403
    are added for a secured operation, 408 and 413 for one with a body. ``alternatives``: other documented responses (a YAML rendering)."""
    statuses = dict(errors or {})
    if roles:
        statuses = {401: None, 403: None, **statuses}
    if request_body is not None:  # any body: read within the time limit, refused over the size limit
        statuses = {408: None, 413: None, **statuses}
    responses: dict[str, Any] = {
        str(status): {"description": text or ERRORS[status], "content": {JSON: {"schema": _ERROR_REF}}}
        for status, text in sorted(statuses.items())
    }
    for status, extra in (alternatives or {}).items():
        responses[str(status)] = extra
    doc: dict[str, Any] = {"responses": responses}
    doc["security"] = (BEARER_OR_NONE if open_if else BEARER) if roles else []
    doc["x-roles"] = list(roles)  # machine-readable: which token roles the operation admits
    who = (
        f"Roles: {', '.join(roles)}" + (f" (or no token at all when {open_if} is on)." if open_if else ".")
        if roles
        else "No token needed."
    )
    params = [dict(p) for p in parameters]
    if params:
        doc["parameters"] = params
    if request_body is not None:
        doc["requestBody"] = dict(request_body)

    def decorate(view: Callable) -> Callable:
        said = load_info_from_docstring(view.__doc__ or "").get("description")
        guarded = require(*roles, open_if=open_if)(view) if roles else view
        return ApiBlueprint.doc(description=f"{said}\n\n{who}" if said else who, **doc)(guarded)

    return decorate


class NameConverter(BaseConverter):
    """``<name:x>``: a path segment naming something the service holds (a version, a decision, a rule...): any
    text but NUL, which names nothing and which PostgreSQL refuses in text (a 500 once): such a path matches
    no route, a 404."""

    regex = r"[^/\x00]+"


class ServiceApi(Api):
    """flask-smorest's Api documenting only what the service answers, with the service's error body."""

    DEFAULT_ERROR_RESPONSE_NAME = None  # no catch-all "default" response: each operation lists its errors
    ERROR_SCHEMA = S.ErrorSchema

    def _register_error_handlers(self) -> None:
        """Nothing: api.errors is the one error boundary (smorest's handler would write another body)."""

    def _register_pagination_header(self) -> None:
        """Nothing: the service pages with its own parameters (?after, ?limit), not smorest's pagination."""


def _spec_kwargs() -> dict[str, Any]:
    return {
        "title": "Rare-earth quota policy service",
        "version": "1.0.0",
        "openapi_version": "3.0.3",
        "info": {
            "description": "Evaluates facts against versioned rulesets encoding China's rare-earth "
            "quota law; every violation cites the provision it breaches, verbatim. "
            "This document is generated from the service's routes (flask-smorest)."
        },
    }


def install(app: Flask) -> ServiceApi:
    """The API object the /v1 blueprints are registered through, and the routes serving its document."""
    api = ServiceApi(spec_kwargs=_spec_kwargs())
    api.init_app(app)
    app.url_map.converters["name"] = NameConverter
    api.register_converter(NameConverter, lambda _: {"type": "string", "pattern": r"^[^\x00]+$"})
    for field_cls, oa_type in (
        (S.StrictInteger, "integer"),
        (S.StrictNumber, "number"),
        (S.StrictBoolean, "boolean"),
        (S.StrictString, "string"),
        (S.DateText, "string"),
    ):
        api.register_field(field_cls, oa_type, None)
    spec = api.spec
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("EvaluateRequest", schema=S.EvaluateRequestSchema)
    spec.components.schema("EvaluateResponse", schema=S.EvaluateResponseSchema)
    # "Error" (S.ErrorSchema) is registered by the Api itself, as its ERROR_SCHEMA
    metrics_rule = next(r for r in app.url_map.iter_rules() if r.rule == "/metrics")  # api.metrics, on the app
    spec.path(
        rule=metrics_rule,
        operations={
            "get": {
                "summary": "Prometheus metrics",
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    )
    app.extensions["repolicy_openapi"] = api
    app.register_blueprint(bp)
    return api


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(current_app.extensions["repolicy_openapi"].spec.to_dict())


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
