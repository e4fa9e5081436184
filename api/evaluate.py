"""POST /v1/evaluate and GET /healthz."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, g, jsonify, request
from flask_smorest import Blueprint

from api.connections import release_slot
from api.decision_log import DecisionNotRecorded
from api.errors import ApiError
from api.evaluate_input import InvalidEvaluateRequest, request_as_of, validate_request
from api.json_input import parse_json_body
from api.metrics import observe_evaluation
from api.openapi import JSON, comma_separated, operation, query, request_content
from api.rate_limit import per_caller
from api.response_bounds import CITATION_MODES, bound, encode_bounded
from api.schemas import EvaluateRequestSchema, EvaluateResponseSchema, HealthSchema, ReadinessSchema
from api.why import why
from engine.prepare import RequestFacts
from engine.unknowns import unknowns
from policy.force import Timing
from policy import results
from policy.ids import new_id
from policy.registry import UnknownRuleset

bp = Blueprint("evaluate", __name__, description="Evaluating facts; liveness and readiness")


def compact_json(obj: Any) -> str:
    """The app's JSON without spaces, as ``jsonify`` writes a response outside debug mode."""
    return current_app.json.dumps(obj, separators=(",", ":"))


def checked_request(body: dict, max_facts: int) -> dict:
    """:func:`api.evaluate_input.validate_request` at the HTTP edge: a body that fails is a 400 (413 over
    the size limit) with every problem and its path."""
    try:
        return validate_request(body, max_facts)
    except InvalidEvaluateRequest as exc:
        raise ApiError(413 if exc.too_large else 400, exc.code, exc.message, exc.errors) from None


EXPLAIN_OPTIONS = ("unknowns", "plain")
# ``?citations=``: the large-response modes, and ``refs`` (citations once per response, for machine callers)
CITATION_OPTIONS = (*CITATION_MODES, "refs")


@bp.post("/v1/evaluate")
@bp.alt_response(200, schema=EvaluateResponseSchema, success=True, description="Violations found (possibly none)")
@operation(
    "caller",
    "regulator",
    "legal",
    open_if="OPEN_EVALUATE",
    errors={
        400: "Malformed facts, an unknown ruleset pin or query value: every error with its path "
        "(facts.production.3.period, rulesets.0, ?explain)",
        413: "Body over the limit, or more facts than MAX_FACTS",
        429: None,
        503: "The decision could not be recorded (durable decision log): it is not given without its record",
    },
    parameters=[
        query(
            "explain",
            "unknowns: also list the rules that missing facts kept from deciding, with the "
            "request fields that were missing; plain: each violation also gets "
            "explanation_plain, its conditions in plain Chinese and English with the values "
            "compared; both: comma-separated",
            comma_separated(EXPLAIN_OPTIONS),
        ),
        query(
            "citations",
            "shared: each provision's text once, in citation_texts, referred to by text_ref "
            "(the default above 1,000 violations); inline: in every citation "
            "(docs/contract-evaluate-v1.md, large responses); refs: each citation by "
            "instrument and eid only, each provision once in provisions[instrument][eid]",
            {"type": "string", "enum": list(CITATION_OPTIONS)},
        ),
    ],
    request_body=request_content(JSON, EvaluateRequestSchema, "The facts, optionally as_of and ruleset pins"),
)
@per_caller
def evaluate():
    """Evaluate facts; returns violations with verbatim citations"""
    received = request.get_data()  # kept: the decision log stores and digests these bytes (read once)
    body = parse_json_body()
    if not isinstance(body, dict):
        raise ApiError(
            400, "invalid_request", "the body must be a JSON object", [{"path": "$", "message": "must be an object"}]
        )
    explain = explain_options(request.args.get("explain"))
    citations = request.args.get("citations")
    if citations is not None and citations not in CITATION_OPTIONS:
        raise ApiError(
            400,
            "invalid_request",
            f"citations takes {', '.join(CITATION_OPTIONS)}",
            [{"path": "?citations", "message": f"unknown value {citations!r}"}],
        )
    data = checked_request(body, current_app.config["MAX_FACTS"])
    as_of = request_as_of(data)
    runtime = current_app.extensions["repolicy"]
    g.decision_id = new_id()  # named before evaluating, so a failure's 500 carries it
    try:
        result = runtime.evaluate(
            data["facts"],
            as_of,
            data.get("rulesets"),
            decision_id=g.decision_id,
            max_violations=current_app.config["MAX_VIOLATIONS"],
        )
    except UnknownRuleset as exc:
        idx = data["rulesets"].index(str(exc.args[0]))
        raise ApiError(
            400,
            "invalid_request",
            f"unknown ruleset {exc.args[0]}",
            [{"path": f"rulesets.{idx}", "message": f"no ruleset version {exc.args[0]}"}],
        ) from None
    if "plain" in explain:
        for i, text in why(runtime, data["facts"], as_of, result).items():
            result["violations"][i]["explanation_plain"] = text
    if "unknowns" in explain:
        result["unknowns"] = explain_unknowns(runtime, data["facts"], as_of, result["rulesets"])
    if citations == "refs":  # each provision once, in "provisions"; citations by instrument and eid
        result["provisions"] = results.cite_by_reference(result["violations"])
    else:
        bound(result, citations, current_app.config["SHARED_CITATIONS_FROM"])
    encoded = encode_bounded(result, compact_json, current_app.config["MAX_RESPONSE_BYTES"])
    principal = getattr(g, "principal", None)
    observe_evaluation(result)
    ticket = current_app.extensions["repolicy_decisions"].record(
        body, result, principal.name if principal else None, body_bytes=received, response_bytes=encoded
    )
    if ticket is not None:  # durable decision log: answer only once the decision is on disk
        release_slot(request.environ)  # others evaluate meanwhile (and join the same disk write)
        try:
            ticket.wait(current_app.config["DECISION_LOG_DURABLE_TIMEOUT"])
        except DecisionNotRecorded as exc:
            raise ApiError(
                503,
                "decision_not_recorded",
                f"the decision could not be recorded ({exc}); it is not given without its record: try again",
            ) from None
    return current_app.response_class(encoded + b"\n", mimetype="application/json")


def explain_options(value: str | None) -> set[str]:
    """``?explain=unknowns,plain``: what to add to the response (each costs time, so only on request)."""
    if value is None:
        return set()
    chosen = {v.strip() for v in value.split(",")}
    wrong = sorted(chosen - set(EXPLAIN_OPTIONS))
    if wrong:
        raise ApiError(
            400,
            "invalid_request",
            f"explain takes {' and/or '.join(EXPLAIN_OPTIONS)}",
            [
                {
                    "path": "?explain",
                    "message": f"unknown value {', '.join(map(repr, wrong))}; use {', '.join(EXPLAIN_OPTIONS)}",
                }
            ],
        )
    return chosen


def explain_unknowns(runtime, facts: dict, as_of: dt.date, used: list[dict]) -> dict[str, Any]:
    """The rules of the versions used that missing facts kept from deciding (bounded search)."""
    request_facts = RequestFacts(facts)
    items: list[dict[str, Any]] = []
    complete = True
    for r in used:
        rs = runtime.registry.get(f"{r['id']}@{r['version']}")
        # every version used was chosen for this request (a draft's only when pinned)
        timing = Timing(rs, runtime.instruments.get(rs.instrument), as_of, pinned=True)
        found, truncated = unknowns(rs, request_facts, as_of, timing=timing)
        items.extend(found)
        complete = complete and not truncated
        if truncated:
            break
    return {"items": items, "complete": complete}


@bp.post("/v1/echo")
@bp.alt_response(200, schema={"type": "object"}, success=True, description="The body as sent")
@operation(
    errors={404: "Not enabled (the default)"}, request_body=request_content(JSON, {"type": "object"}, "Any JSON")
)
def echo():
    """Benchmark baseline only (config ECHO_ENDPOINT): returns the body, to compare HTTP overhead"""
    if not current_app.config.get("ECHO_ENDPOINT"):
        raise ApiError(404, "not_found", "The requested URL was not found on the server.")
    return current_app.response_class(request.get_data(), mimetype="application/json")


@bp.get("/healthz")
@bp.alt_response(200, schema=HealthSchema, success=True, description="The process answers")
@operation()
def healthz():
    """Liveness: the process answers"""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@bp.alt_response(200, schema=ReadinessSchema, success=True, description="Ready")
@bp.alt_response(503, schema=ReadinessSchema, description="Not ready: no active ruleset version")
@operation()
def readyz():
    """Readiness: rulesets compiled; registry database reachable (evaluation works without it)"""
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
