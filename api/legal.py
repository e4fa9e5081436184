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

from flask import Blueprint, current_app, g, jsonify

from api.auth import require
from api.errors import ApiError
from api.json_input import parse_json_body
from api.query import comment_text
from api.rule_view import find_rule, interpretation_register, rule_review, rule_view, sign_off
from policy.coverage import coverage, load_not_a_violation, load_out_of_scope
from policy.text import printable_key
from policy.model import Citation
from policy.results import citation_json

bp = Blueprint("legal", __name__)


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
    return None if force is None else {"from": force[0] and force[0].isoformat(), "to": force[1] and force[1].isoformat()}


def _meta(inst) -> dict:
    day = lambda d: d.isoformat() if d else None  # noqa: E731
    return {"id": inst.id, "title": dict(inst.title), "short_title": dict(inst.short_title),
            "issuer": dict(inst.issuer), "document_number": inst.document_number, "date": day(inst.date),
            "published": day(inst.published), "effective_from": day(inst.effective_from), "status": inst.status,
            "in_force": _force(inst),
            "complete": inst.complete, "notes": dict(inst.notes) if inst.notes else None,
            "text_available": inst.text_available, "revision": inst.revision, "digest": inst.digest}


@bp.get("/v1/instruments")
@require("legal", "regulator")
def instruments():
    return jsonify({"instruments": [_meta(i) for i in sorted(_runtime().instruments.values(), key=lambda i: i.id)]})


@bp.get("/v1/instruments/<instrument_id>")
@require("legal", "regulator")
def instrument(instrument_id: str):
    inst = _instrument(instrument_id)
    provisions = [{"eid": p.eid, "kind": p.kind, "label": dict(p.label),
                   "heading": dict(p.heading) if p.heading else None, "parent": p.parent,
                   "children": list(p.children)} for p in inst.provisions.values()]
    return jsonify({**_meta(inst), "provisions": provisions})


@bp.get("/v1/instruments/<instrument_id>/provisions/<eid>")
@require("legal", "regulator")
def provision(instrument_id: str, eid: str):
    inst = _instrument(instrument_id)
    if eid not in inst.provisions:
        raise ApiError(404, "not_found", f"{instrument_id} has no provision {eid}")
    p = inst.provisions[eid]
    registry = _runtime().registry
    cov = coverage(inst, registry.all(), load_out_of_scope().get(instrument_id, {}),
                   not_a_violation=load_not_a_violation().get(instrument_id))[eid]
    implemented = []
    for item in cov.implemented_by:
        ref, _, rest = item.partition(" ")
        implemented.append({"ruleset": ref, "status": registry.status(ref), "by": rest})
    text = citation_json(Citation(inst.id, eid), _runtime().instruments)  # says so when it is not available
    return jsonify({"instrument": inst.id, "instrument_status": inst.status, "eid": p.eid, "kind": p.kind,
                    "label": dict(p.label), "heading": dict(p.heading) if p.heading else None, "text": text["text"],
                    "text_en": text.get("text_en"), "text_available": inst.text_available, "parent": p.parent, "children": list(p.children),
                    "coverage": cov.status, "implemented_by": implemented, "out_of_scope": cov.out_of_scope,
                    "not_a_violation": cov.not_a_violation})


@bp.get("/v1/instruments/<instrument_id>/interpretations")
@require("legal", "regulator")
def interpretations(instrument_id: str):
    return jsonify({"instrument": instrument_id, "interpretations": interpretation_register(instrument_id)})


@bp.get("/v1/rules/<ref>/<rule_id>")
@require("legal", "regulator")
def rule(ref: str, rule_id: str):
    rs, r = find_rule(ref, rule_id)
    return jsonify(rule_view(rs, r))


@bp.get("/v1/rules/<ref>/<rule_id>/approvals")
@require("legal", "regulator")
def approvals(ref: str, rule_id: str):
    rs, r = find_rule(ref, rule_id)
    return jsonify(rule_review(rs, r))


@bp.post("/v1/rules/<ref>/<rule_id>/approvals")
@require("legal")
def approve(ref: str, rule_id: str):
    """A legal reviewer signs off the rule as it stands in this version (body: optional ``comment``)."""
    rs, r = find_rule(ref, rule_id)
    body = parse_json_body(required=False)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the body is a JSON object with an optional `comment` text",
                       [{"path": "$", "message": "must be an object"}])
    unknown = sorted(printable_key(k) for k in body if k != "comment")
    if unknown:
        raise ApiError(400, "invalid_request", "the body is a JSON object with an optional `comment` text",
                       [{"path": k, "message": "unknown field"} for k in unknown])
    comment = comment_text(body.get("comment"))
    approval = sign_off(rs, r, g.principal.name, comment)
    return jsonify({"approval": approval, "review": rule_review(rs, r)}), 201
