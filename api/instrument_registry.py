"""Publishing legal instruments' texts into the registry, like ruleset versions.

- ``POST /v1/instruments`` (regulator): a YAML body in the instrument format (docs/instruments.md);
  validated (422 with file, line and column), then stored as the instrument's next revision (201) with
  its digest, and audited.  Every instance serves the newest revision within one registry poll.
  Sending the text the newest revision already has changes nothing (200).  A revision that drops a
  provision a registered ruleset version cites is refused (422 naming the version, line and rule):
  those versions must keep their citations.
- ``GET /v1/instruments/<id>/revisions`` and ``.../revisions/<n>`` (legal, regulator): every revision
  ever published, the text of each (``?format=yaml`` for the file as sent).  Revisions are never
  changed or removed, so the text a ruleset or decision cited stays readable after a correction.
"""

from __future__ import annotations

import hashlib

from flask import Response, g, jsonify, request
from flask_smorest import Blueprint

from api.errors import ApiError
from api.openapi import YAML, operation, query, request_content
from api.ruleset_versions import COMMENT, FORMAT, _runtime, _store  # one way to reach the runtime and its store
from api.schemas import PublishedRevisionSchema, RevisionListSchema, RevisionSourceSchema
from policy.coverage import ruleset_citations
from policy.instruments import Instrument, InstrumentError, error_line, load_instrument_text, problem
from policy.model import Ruleset

bp = Blueprint("instrument_registry", __name__, description="Publishing the law's texts, revision by revision")
MAX_REVISION = 2**31 - 1  # revision numbers are INTEGER columns (32-bit in PostgreSQL): beyond, no route (404)


def orphaned_citations(instrument: Instrument, rulesets: list[Ruleset]) -> list[dict]:
    """Citations of registered ruleset versions that the instrument's new text no longer has, as issues."""
    issues = []
    for rs in rulesets:
        for citation, by in ruleset_citations(rs):
            if citation.instrument != instrument.id or citation.eid in instrument.provisions:
                continue
            named = by.split(" ")[1] if " " in by else None  # "ref rule-id [(consequence)]", "ref parameter x"
            rule = next((r for r in rs.rules if r.id == named), None)
            issues.append(
                {
                    "file": f"registry:{rs.ref}",
                    "line": rule.location.line if rule else 1,
                    "column": 1,
                    "rule": rule.id if rule else None,
                    "message": f"{by} cites {instrument.id} {citation.eid}, which this text lacks",
                    "hint": "keep the provision, or first publish and activate a ruleset version that "
                    "no longer cites it",
                }
            )
    return issues


@bp.post("/v1/instruments")
@bp.alt_response(201, schema=PublishedRevisionSchema, success=True, description="Stored as the next revision")
@bp.alt_response(200, schema=PublishedRevisionSchema, success=True, description="The newest revision has this text")
@operation(
    "regulator",
    errors={
        400: "Invalid comment",
        422: "Does not validate (issues with file, line, column), or drops a "
        "provision a registered ruleset version cites",
        503: None,
    },
    parameters=[COMMENT, query("file", "the file name quoted in issues (default: request body)")],
    request_body=request_content(YAML, {"type": "string"}, "The instrument's text (docs/instruments.md)"),
)
def publish_instrument():
    """Publish an instrument's text as its next revision"""
    runtime = _runtime()
    store = _store(runtime)
    raw = request.get_data(cache=False)
    file = request.args.get("file") or "request body"
    text = raw.decode("utf-8", errors="replace")
    try:
        inst = load_instrument_text(raw, file)
    except InstrumentError as exc:
        line, column = error_line(exc, text)
        raise ApiError(
            422,
            "invalid_instrument",
            "the instrument does not validate",
            issues=[
                {"file": file, "line": line, "column": column, "rule": None, "message": problem(exc), "hint": exc.hint}
            ],
        ) from None
    runtime.refresh()  # another instance may have published rulesets citing it meanwhile
    orphaned = orphaned_citations(inst, runtime.registry.all())
    if orphaned:
        raise ApiError(
            422,
            "citations_orphaned",
            f"{len(orphaned)} citation(s) of registered ruleset versions would lose their provision",
            issues=orphaned,
        )
    row, created = store.add_instrument_revision(
        instrument_id=inst.id,
        legal_status=inst.status,
        text_available=inst.text_available,
        source=text,
        digest="sha256:" + hashlib.sha256(raw).hexdigest(),
        author=g.principal.name,
        comment=request.args.get("comment") or None,
    )
    runtime.refresh()
    return jsonify({**row.as_json(), "created": created}), 201 if created else 200


@bp.get("/v1/instruments/<name:instrument_id>/revisions")
@bp.alt_response(200, schema=RevisionListSchema, success=True, description="Every revision, oldest first")
@operation("legal", "regulator", errors={404: "No published revision", 503: None})
def revisions(instrument_id: str):
    """Every published revision of an instrument"""
    rows = _store(_runtime()).instrument_revisions(instrument_id)
    if not rows:
        raise ApiError(404, "not_found", f"no published revision of instrument {instrument_id}")
    return jsonify({"id": instrument_id, "revisions": [r.as_json() for r in rows]})


@bp.get(f"/v1/instruments/<name:instrument_id>/revisions/<int(min=1, max={MAX_REVISION}):revision>")
@bp.alt_response(200, schema=RevisionSourceSchema, success=True, description="The revision with its text")
@bp.alt_response(
    200, schema={"type": "string"}, content_type=YAML, success=True, description="The revision with its text"
)
@operation("legal", "regulator", errors={404: "No such revision", 503: None}, parameters=[FORMAT])
def revision(instrument_id: str, revision: int):
    """One revision of an instrument, with its text"""
    row = _store(_runtime()).instrument_revision(instrument_id, revision)
    if row is None:
        raise ApiError(404, "not_found", f"no revision {revision} of instrument {instrument_id}")
    if request.args.get("format") == "yaml":
        return Response(row.source, mimetype="application/yaml")
    return jsonify(row.as_json(include_source=True))
