"""POST /v1/evaluate and GET /healthz."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import ValidationError

from api.auth import require
from api.errors import ApiError
from api.metrics import observe_evaluation
from api.references import reference_errors
from api.schemas import EvaluateRequestSchema, flatten_errors
from api.why import why
from engine.prepare import RequestFacts
from engine.unknowns import unknowns
from policy.ids import new_id
from policy import jsonio
from policy.registry import UnknownRuleset

bp = Blueprint("evaluate", __name__)
_schema = EvaluateRequestSchema()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json_body() -> Any:
    """The body as JSON, whatever the Content-Type (curl -d sends form encoding)."""
    raw = request.get_data(cache=False)
    if not raw:
        raise ApiError(400, "invalid_request", "empty body: send a JSON object",
                       [{"path": "$", "message": "required"}])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_request", "body is not UTF-8",
                       [{"path": "$", "message": f"invalid UTF-8 at byte {exc.start}"}]) from None
    try:
        return jsonio.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ApiError(400, "invalid_request", "JSON nested too deeply",
                       [{"path": "$", "message": "nesting too deep"}]) from None
    except ValueError as exc:
        raise ApiError(400, "invalid_request", f"body is not valid JSON: {exc}",
                       [{"path": "$", "message": str(exc)}]) from None


def validate_request(body: dict, max_facts: int) -> dict:
    """Schema, size and reference checks of an evaluate body; raise ApiError with every problem."""
    try:
        data = _schema.load(body)
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
        raise ApiError(400, "invalid_request", f"{len(errors)} invalid field(s)", errors) from None
    facts = data["facts"]
    count = sum(len(v) for v in facts.values())
    if count > max_facts:
        raise ApiError(413, "too_many_facts", f"{count} facts, over the limit of {max_facts} per request")
    errors = reference_errors(facts)
    if errors:
        raise ApiError(400, "invalid_request", f"{len(errors)} invalid reference(s)", errors)
    return data


def request_as_of(data: dict) -> dt.date:
    """The date obligations are judged at: the request's ``as_of``, by default today (contract)."""
    return dt.date.fromisoformat(data["as_of"]) if "as_of" in data else dt.date.today()


@bp.post("/v1/evaluate")
@require("caller", "regulator", "legal", open_if="OPEN_EVALUATE")
def evaluate():
    body = parse_json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the body must be a JSON object",
                       [{"path": "$", "message": "must be an object"}])
    explain = explain_options(request.args.get("explain"))
    data = validate_request(body, current_app.config["MAX_FACTS"])
    as_of = request_as_of(data)
    runtime = current_app.extensions["repolicy"]
    g.decision_id = new_id()  # named before evaluating, so a failure's 500 carries it
    try:
        result = runtime.evaluate(data["facts"], as_of, data.get("rulesets"), decision_id=g.decision_id)
    except UnknownRuleset as exc:
        idx = data["rulesets"].index(str(exc.args[0]))
        raise ApiError(400, "invalid_request", f"unknown ruleset {exc.args[0]}",
                       [{"path": f"rulesets.{idx}", "message": f"no ruleset version {exc.args[0]}"}]) from None
    if "plain" in explain:
        for i, text in why(runtime, data["facts"], as_of, result).items():
            result["violations"][i]["explanation_plain"] = text
    if "unknowns" in explain:
        result["unknowns"] = explain_unknowns(runtime, data["facts"], as_of, result["rulesets"])
    principal = getattr(g, "principal", None)
    observe_evaluation(result)
    current_app.extensions["repolicy_decisions"].record(body, result, principal.name if principal else None)
    return jsonify(result)


EXPLAIN_OPTIONS = ("unknowns", "plain")


def explain_options(value: str | None) -> set[str]:
    """``?explain=unknowns,plain``: what to add to the response (each costs time, so only on request)."""
    if value is None:
        return set()
    chosen = {v.strip() for v in value.split(",")}
    wrong = sorted(chosen - set(EXPLAIN_OPTIONS))
    if wrong:
        raise ApiError(400, "invalid_request", f"explain takes {' and/or '.join(EXPLAIN_OPTIONS)}",
                       [{"path": "?explain", "message": f"unknown value {', '.join(map(repr, wrong))}; "
                                                        f"use {', '.join(EXPLAIN_OPTIONS)}"}])
    return chosen


def explain_unknowns(runtime, facts: dict, as_of: dt.date, used: list[dict]) -> dict[str, Any]:
    """The rules of the versions used that missing facts kept from deciding (bounded search)."""
    request_facts = RequestFacts(facts)
    items: list[dict[str, Any]] = []
    complete = True
    for r in used:
        found, truncated = unknowns(runtime.registry.get(f"{r['id']}@{r['version']}"), request_facts, as_of)
        items.extend(found)
        complete = complete and not truncated
        if truncated:
            break
    return {"items": items, "complete": complete}


@bp.post("/v1/echo")
def echo():
    """Benchmark baseline only (config ECHO_ENDPOINT): returns the body, to compare HTTP overhead."""
    if not current_app.config.get("ECHO_ENDPOINT"):
        raise ApiError(404, "not_found", "The requested URL was not found on the server.")
    return current_app.response_class(request.get_data(), mimetype="application/json")


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Readiness: rulesets compiled; registry database reachable (evaluation works without it)."""
    runtime = current_app.extensions["repolicy"]
    body = {"rulesets": [{"ref": r.ref, "status": runtime.registry.status(r.ref)} for r in runtime.registry.all()]}
    if runtime.store is not None:
        try:
            body["generation"] = runtime.store.generation()
            body["database"] = "ok"
        except Exception as exc:
            body["database"] = f"unreachable: {type(exc).__name__}"
    elif runtime.last_refresh_error:
        body["database"] = runtime.last_refresh_error
    body.update(current_app.extensions["repolicy_decisions"].status())
    ready = bool(runtime.registry.active())
    body["status"] = "ready" if ready else "not_ready"
    return jsonify(body), 200 if ready else 503
