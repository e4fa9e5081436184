"""Read API for legal reviewers: instruments, provisions with the rules implementing them, rules.

- ``GET /v1/instruments`` and ``GET /v1/instruments/<id>``: titles, status, dates, structure;
- ``GET /v1/instruments/<id>/provisions/<eid>``: verbatim text, labels, the rules (of every registered
  version) that cite it, or the reason it is out of scope;
- ``GET /v1/instruments/<id>/interpretations``: the register of interpretations, every reading chosen
  where the instrument's text is open, by every rule (of the versions not retired) citing it;
- ``GET /v1/rules/<ruleset>@<version>/<rule>``: the rule's YAML as written, its conditions (also in plain
  Chinese and English), citations with text, the parameters it reads with their own citations, the
  consequences, the scenarios that exercise it and its sign-off state;
- ``GET|POST /v1/rules/<ruleset>@<version>/<rule>/approvals``: sign-offs (POST: ``legal`` role only).
Reading needs the ``legal`` or ``regulator`` role.
"""

from __future__ import annotations

from flask import current_app, g, jsonify
from flask_smorest import Blueprint

from api.errors import ApiError
from api.json_input import parse_json_body
from api.openapi import JSON, operation, request_content
from api.query import comment_text
from api.rule_view import find_rule, interpretation_register, rule_review, rule_view, sign_off
from api.schemas import (
    ApprovalRequestSchema,
    ApprovalSchema,
    InstrumentDetailSchema,
    InstrumentListSchema,
    InterpretationsSchema,
    ProvisionSchema,
    ReviewSchema,
    RuleViewSchema,
)
from policy.coverage import coverage, load_not_a_violation, load_out_of_scope
from policy.text import printable_key
from policy.model import Citation
from policy.results import citation_json

bp = Blueprint("legal", __name__, description="Reading the law and the rules implementing it; signing rules off")
NO_RULE = {404: "No such version or rule"}


def _runtime():
    return current_app.extensions["repolicy"]


def _instrument(instrument_id: str):
    inst = _runtime().instruments.get(instrument_id)
    if inst is None:
        raise ApiError(404, "not_found", f"no instrument {instrument_id}")
    return inst


def _force(inst) -> dict | None:
    """The period the instrument is law ({from, to}, open ends null), or null for a draft never in force."""
    force = inst.in_force()
    return (
        None if force is None else {"from": force[0] and force[0].isoformat(), "to": force[1] and force[1].isoformat()}
    )


def _meta(inst) -> dict:
    day = lambda d: d.isoformat() if d else None  # noqa: E731
    return {
        "id": inst.id,
        "title": dict(inst.title),
        "short_title": dict(inst.short_title),
        "issuer": dict(inst.issuer),
        "document_number": inst.document_number,
        "date": day(inst.date),
        "published": day(inst.published),
        "effective_from": day(inst.effective_from),
        "status": inst.status,
        "in_force": _force(inst),
        "complete": inst.complete,
        "notes": dict(inst.notes) if inst.notes else None,
        "text_available": inst.text_available,
        "revision": inst.revision,
        "digest": inst.digest,
    }


@bp.get("/v1/instruments")
@bp.alt_response(200, schema=InstrumentListSchema, success=True, description="Every instrument")
@operation("legal", "regulator")
def instruments():
    """The instruments: titles, status, dates"""
    return jsonify({"instruments": [_meta(i) for i in sorted(_runtime().instruments.values(), key=lambda i: i.id)]})


@bp.get("/v1/instruments/<name:instrument_id>")
@bp.alt_response(200, schema=InstrumentDetailSchema, success=True, description="The instrument and its structure")
@operation("legal", "regulator", errors={404: "No such instrument"})
def instrument(instrument_id: str):
    """One instrument with its provisions' structure"""
    inst = _instrument(instrument_id)
    provisions = [
        {
            "eid": p.eid,
            "kind": p.kind,
            "label": dict(p.label),
            "heading": dict(p.heading) if p.heading else None,
            "parent": p.parent,
            "children": list(p.children),
        }
        for p in inst.provisions.values()
    ]
    return jsonify({**_meta(inst), "provisions": provisions})


@bp.get("/v1/instruments/<name:instrument_id>/provisions/<name:eid>")
@bp.alt_response(200, schema=ProvisionSchema, success=True, description="The provision")
@operation("legal", "regulator", errors={404: "No such instrument or provision"})
def provision(instrument_id: str, eid: str):
    """A provision: verbatim text, the rules citing it, or why it is out of scope"""
    inst = _instrument(instrument_id)
    if eid not in inst.provisions:
        raise ApiError(404, "not_found", f"{instrument_id} has no provision {eid}")
    p = inst.provisions[eid]
    registry = _runtime().registry
    cov = coverage(
        inst,
        registry.all(),
        load_out_of_scope().get(instrument_id, {}),
        not_a_violation=load_not_a_violation().get(instrument_id),
    )[eid]
    implemented = []
    for item in cov.implemented_by:
        ref, _, rest = item.partition(" ")
        implemented.append({"ruleset": ref, "status": registry.status(ref), "by": rest})
    text = citation_json(Citation(inst.id, eid), _runtime().instruments)  # says so when it is not available
    return jsonify(
        {
            "instrument": inst.id,
            "instrument_status": inst.status,
            "eid": p.eid,
            "kind": p.kind,
            "label": dict(p.label),
            "heading": dict(p.heading) if p.heading else None,
            "text": text["text"],
            "text_en": text.get("text_en"),
            "text_available": inst.text_available,
            "parent": p.parent,
            "children": list(p.children),
            "coverage": cov.status,
            "implemented_by": implemented,
            "out_of_scope": cov.out_of_scope,
            "not_a_violation": cov.not_a_violation,
        }
    )


@bp.get("/v1/instruments/<name:instrument_id>/interpretations")
@bp.alt_response(200, schema=InterpretationsSchema, success=True, description="The register")
@operation("legal", "regulator", errors={404: "No such instrument"})
def interpretations(instrument_id: str):
    """The register of interpretations: every reading chosen where the text is open"""
    return jsonify({"instrument": instrument_id, "interpretations": interpretation_register(instrument_id)})


@bp.get("/v1/rules/<name:ref>/<name:rule_id>")
@bp.alt_response(200, schema=RuleViewSchema, success=True, description="The rule")
@operation("legal", "regulator", errors=NO_RULE)
def rule(ref: str, rule_id: str):
    """A rule: YAML, conditions in plain words, citations, parameters, scenarios, sign-off state"""
    rs, r = find_rule(ref, rule_id)
    return jsonify(rule_view(rs, r))


@bp.get("/v1/rules/<name:ref>/<name:rule_id>/approvals")
@bp.alt_response(200, schema=ReviewSchema, success=True, description="The rule's sign-off state")
@operation("legal", "regulator", errors=NO_RULE)
def approvals(ref: str, rule_id: str):
    """A rule's sign-off state"""
    rs, r = find_rule(ref, rule_id)
    return jsonify(rule_review(rs, r))


@bp.post("/v1/rules/<name:ref>/<name:rule_id>/approvals")
@bp.alt_response(201, schema=ApprovalSchema, success=True, description="Signed off")
@operation(
    "legal",
    errors={
        400: "Not a JSON object with an optional comment text: every error with its path",
        **NO_RULE,
        503: "No registry database, or it is unreachable",
    },
    request_body=request_content(JSON, ApprovalRequestSchema, "An optional comment", required=False),
)
def approve(ref: str, rule_id: str):
    """Sign off a rule as it stands in this version

    Under maker-checker (MAKER_CHECKER) only sign-offs by someone other than the version's publisher count."""
    rs, r = find_rule(ref, rule_id)
    body = parse_json_body(required=False)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(
            400,
            "invalid_request",
            "the body is a JSON object with an optional `comment` text",
            [{"path": "$", "message": "must be an object"}],
        )
    unknown = sorted(printable_key(k) for k in body if k != "comment")
    if unknown:
        raise ApiError(
            400,
            "invalid_request",
            "the body is a JSON object with an optional `comment` text",
            [{"path": k, "message": "unknown field"} for k in unknown],
        )
    comment = comment_text(body.get("comment"))
    approval = sign_off(rs, r, g.principal.name, comment)
    return jsonify({"approval": approval, "review": rule_review(rs, r)}), 201
