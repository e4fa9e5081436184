"""Read API for legal reviewers: instruments, provisions with the rules implementing them, rules.

- ``GET /v1/instruments`` and ``GET /v1/instruments/<id>``: titles, status, dates, structure;
- ``GET /v1/instruments/<id>/provisions/<eid>``: verbatim text, labels, the rules (of every registered
  version) that cite it, or the reason it is out of scope;
- ``GET /v1/rules/<ruleset>@<version>/<rule>``: the rule's YAML as written, its conditions, citations with
  text, the parameters it reads with their own citations, and the consequences.
All need the ``legal`` or ``regulator`` role.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from api.auth import require
from api.errors import ApiError
from policy import expr as E
from policy.coverage import coverage, load_out_of_scope
from policy.results import citation_json

bp = Blueprint("legal", __name__)


def _runtime():
    return current_app.extensions["repolicy"]


def _instrument(instrument_id: str):
    inst = _runtime().instruments.get(instrument_id)
    if inst is None:
        raise ApiError(404, "not_found", f"no instrument {instrument_id}")
    return inst


def _meta(inst) -> dict:
    day = lambda d: d.isoformat() if d else None  # noqa: E731
    return {"id": inst.id, "title": dict(inst.title), "short_title": dict(inst.short_title),
            "issuer": dict(inst.issuer), "document_number": inst.document_number, "date": day(inst.date),
            "published": day(inst.published), "effective_from": day(inst.effective_from), "status": inst.status,
            "complete": inst.complete, "notes": dict(inst.notes) if inst.notes else None}


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
    cov = coverage(inst, registry.all(), load_out_of_scope().get(instrument_id, {}))[eid]
    implemented = []
    for item in cov.implemented_by:
        ref, _, rest = item.partition(" ")
        implemented.append({"ruleset": ref, "status": registry.status(ref), "by": rest})
    return jsonify({"instrument": inst.id, "instrument_status": inst.status, "eid": p.eid, "kind": p.kind,
                    "label": dict(p.label), "heading": dict(p.heading) if p.heading else None, "text": p.text,
                    "text_en": p.text_en, "parent": p.parent, "children": list(p.children),
                    "coverage": cov.status, "implemented_by": implemented, "out_of_scope": cov.out_of_scope})


def _rule_source(source: str, rules, rule) -> str:
    """The rule's own lines of the ruleset file, as the regulator wrote them."""
    lines = source.splitlines()
    starts = sorted(r.location.line for r in rules)
    start = rule.location.line
    later = [s for s in starts if s > start]
    end = later[0] - 1 if later else len(lines)
    first = start - 1
    while first > 0 and not lines[first].lstrip().startswith("- "):
        first -= 1
    return "\n".join(lines[first:end]).rstrip()


@bp.get("/v1/rules/<ref>/<rule_id>")
@require("legal", "regulator")
def rule(ref: str, rule_id: str):
    runtime = _runtime()
    try:
        rs = runtime.registry.get(ref)
        r = rs.rule(rule_id)
    except LookupError:
        raise ApiError(404, "not_found", f"no rule {rule_id} in {ref}") from None
    params_read = sorted({n.name for p in r.patterns if p.where is not None for n in E.param_refs(p.where)}
                         | {n.name for v in r.details.values() for n in E.param_refs(v)})
    return jsonify({
        "ruleset": rs.ref, "ruleset_status": runtime.registry.status(rs.ref), "digest": rs.digest,
        "id": r.id, "title": dict(r.title), "description": dict(r.description) if r.description else None,
        "severity": r.severity, "yaml": _rule_source(rs.source, rs.rules, r),
        "when": [{"fact": p.fact, "as": p.alias, "absent": p.negated,
                  "condition": E.to_text(p.where) if p.where is not None else None} for p in r.patterns],
        "citations": [citation_json(c, runtime.instruments) for c in r.citations],
        "parameters": [{"name": n, "value": rs.parameters[n].value, "unit": rs.parameters[n].unit,
                        "label": dict(rs.parameters[n].label),
                        "citations": [citation_json(c, runtime.instruments) for c in rs.parameters[n].citations]}
                       for n in params_read],
        "consequences": [{"type": c.type, "description": dict(c.description) if c.description else None,
                          "citation": citation_json(c.citation, runtime.instruments)} for c in r.consequences],
    })

