"""Publishing and activating ruleset versions; reading them and the audit trail.

- ``POST /v1/rulesets`` (regulator): a YAML body; validated (422 with file,
  line, column and rule id), compiled, its own ``scenarios`` run (422 if any
  fails), then stored as a new immutable version (201), active at once with
  ``?activate=true``.  The same id@version with other content is a 409.
- ``POST /v1/rulesets/<id>/<version>/activate`` (regulator): switch; active
  versions of the same ruleset whose periods overlap are retired.  Rollback
  is activating the older version.  With maker-checker on (``MAKER_CHECKER``)
  each changed rule needs a legal sign-off by someone other than the
  publisher first (409 listing them), or ``?override_reason=`` in an emergency.
- ``GET /v1/rulesets``, ``GET /v1/rulesets/<id>/<version>`` (legal, regulator).
- ``GET /v1/audit?after=ID&limit=N`` (legal, regulator): the append-only log, ``limit`` 1 to 1000
  (default 100), entries after id ``after`` (default 0); other values are a 400.
"""

from __future__ import annotations

from flask import Response, current_app, g, jsonify, request
from flask_smorest import Blueprint

from api.errors import ApiError
from api.openapi import YAML, operation, query, request_content
from api.query import comment_text, int_arg
from api.scenarios import describe, run_scenario, scenarios_from
from api.schemas import ActivatedSchema, AuditSchema, PublishedVersionSchema, VersionListSchema, VersionSourceSchema
from engine.evaluator import Engine
from api.runtime import Runtime
from api.store_seeding import version_record
from policy.loader import RulesetInvalid, load_ruleset
from policy.model import Ruleset
from policy.review import in_force_digests, unsigned_changes
from policy.store import VersionConflict
from policy.yamlsource import YamlSourceError

bp = Blueprint("registry", __name__, description="Ruleset versions: publishing, activating, the audit trail")
MAX_ENTRY_ID = 2**31 - 1  # audit entry ids are INTEGER columns (32-bit in PostgreSQL, which refuses more)
FORMAT = query("format", "yaml: the file as published (application/yaml); any other value or none: JSON")
COMMENT = query(
    "comment", "why (audited; at most 2,000 characters, no control characters)", {"type": "string", "maxLength": 2000}
)
OVERRIDE = query(
    "override_reason",
    "maker-checker (MAKER_CHECKER): activate rules awaiting sign-off, in an "
    "emergency, for this reason (audited; at most 2,000 characters)",
    {"type": "string", "maxLength": 2000},
)


def _runtime() -> Runtime:
    return current_app.extensions["repolicy"]


def _store(runtime: Runtime):
    if runtime.store is None:
        raise ApiError(503, "no_registry", "this instance has no registry database")
    return runtime.store


def _version_json(row, include_source: bool = False) -> dict:
    out = {
        "id": row.ruleset_id,
        "version": row.version,
        "status": row.status,
        "instrument": row.instrument,
        "legal_status": row.legal_status,
        "effective": {"from": row.effective_from, "to": row.effective_to},
        "digest": row.digest,
        "author": row.author,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "comment": row.comment,
    }
    if include_source:
        out["source"] = row.source
    return out


@bp.get("/v1/rulesets")
@bp.alt_response(200, schema=VersionListSchema, success=True, description="Every stored version")
@operation("legal", "regulator", errors={503: None})
def list_versions():
    """Ruleset versions"""
    return jsonify({"versions": [_version_json(r) for r in _store(_runtime()).all_versions()]})


@bp.get("/v1/rulesets/<name:rid>/<name:version>")
@bp.alt_response(200, schema=VersionSourceSchema, success=True, description="The version with its YAML")
@bp.alt_response(
    200, schema={"type": "string"}, content_type=YAML, success=True, description="The version with its YAML"
)
@operation("legal", "regulator", errors={404: "No such version", 503: None}, parameters=[FORMAT])
def get_version(rid: str, version: str):
    """One version with its YAML"""
    row = _store(_runtime()).get(rid, version)
    if row is None:
        raise ApiError(404, "not_found", f"no ruleset version {rid}@{version}")
    if request.args.get("format") == "yaml":
        return Response(row.source, mimetype="application/yaml")
    return jsonify(_version_json(row, include_source=True))


@bp.post("/v1/rulesets")
@bp.alt_response(201, schema=PublishedVersionSchema, success=True, description="Stored")
@bp.alt_response(200, schema=PublishedVersionSchema, success=True, description="Already stored with this text")
@operation(
    "regulator",
    errors={
        400: "Invalid comment or override_reason",
        409: "The version exists with other content, or (with "
        "?activate=true and MAKER_CHECKER) rules await sign-off: listed in rules",
        422: "Does not validate (issues with file, line, column, rule), does not compile, or its own scenarios "
        "fail (scenarios)",
        503: None,
    },
    parameters=[
        query("activate", "true, 1 or yes: active at once (versions it overlaps are retired)"),
        COMMENT,
        query("file", "the file name quoted in issues (default: request body)"),
        OVERRIDE,
    ],
    request_body=request_content(YAML, {"type": "string"}, "The ruleset file (docs/rules.md)"),
)
def publish():
    """Publish a version: validated, compiled, its own scenarios run"""
    runtime = _runtime()
    store = _store(runtime)
    raw = request.get_data(cache=False)
    file = request.args.get("file") or "request body"
    comment = comment_text(request.args.get("comment"), "?comment")
    runtime.refresh()  # instruments published through another instance are cited against their newest text
    try:
        candidate = load_ruleset(raw, file, runtime.instruments)
    except RulesetInvalid as exc:
        raise ApiError(
            422,
            "invalid_ruleset",
            f"{len(exc.issues)} problem(s) in the ruleset",
            issues=[i.as_dict() for i in exc.issues],
        ) from None
    try:
        Engine(candidate).close()  # it must compile and load into the engine
    except Exception as exc:  # pragma: no cover - validation should have caught it
        raise ApiError(422, "invalid_ruleset", f"the engine refused the ruleset: {exc}") from None
    failures = own_scenario_failures(runtime, candidate, file)
    if failures:
        raise ApiError(
            422, "scenarios_failed", f"{len(failures)} of the ruleset's own scenarios failed", scenarios=failures
        )
    activate = request.args.get("activate", "").lower() in ("1", "true", "yes")
    override = sign_off_gate(runtime, store, candidate, g.principal.name) if activate else None
    record = version_record(candidate, author=g.principal.name, comment=comment)
    record["status"] = "active" if activate and override is None else "draft"
    try:
        created = store.add_version(**record)
    except VersionConflict as exc:
        raise ApiError(409, "version_exists", str(exc)) from None
    if override is not None:
        store.activate(candidate.id, candidate.version, g.principal.name, request.args.get("comment"), override)
    runtime.refresh()
    status = 201 if created else 200
    return jsonify(
        {
            "id": candidate.id,
            "version": candidate.version,
            "digest": candidate.digest,
            "status": runtime.registry.status(candidate.ref),
            "created": created,
            "warnings": [w.as_dict() for w in candidate.extra.get("warnings", ())],
        }
    ), status


def own_scenario_failures(runtime: Runtime, candidate, file: str) -> list[str]:
    """Run the scenarios a ruleset carries, with the candidate as if it were registered."""
    items = candidate.extra.get("scenarios")
    if not items:
        return []
    try:
        scenarios = scenarios_from(items, file)
    except YamlSourceError as exc:
        return [exc.message]
    trial = runtime.with_candidate(candidate)
    try:
        return [describe(o) for o in (run_scenario(trial, s) for s in scenarios) if not o.passed]
    finally:
        trial.engine(candidate).close()


@bp.post("/v1/rulesets/<name:rid>/<name:version>/activate")
@bp.alt_response(200, schema=ActivatedSchema, success=True, description="Activated")
@operation(
    "regulator",
    errors={
        400: "Invalid comment or override_reason",
        404: "No such version",
        409: "Rules await sign-off (MAKER_CHECKER): listed in rules",
        422: "The version cannot be served",
        503: None,
    },
    parameters=[COMMENT, OVERRIDE],
)
def activate(rid: str, version: str):
    """Activate a version; also the way to roll back"""
    runtime = _runtime()
    store = _store(runtime)
    if store.get(rid, version) is None:
        raise ApiError(404, "not_found", f"no ruleset version {rid}@{version}")
    runtime.refresh()
    try:
        runtime.engine(runtime.registry.get(f"{rid}@{version}"))  # compiled before the switch
    except Exception as exc:
        raise ApiError(422, "invalid_ruleset", f"{rid}@{version} cannot be served: {exc}") from None
    comment = comment_text(request.args.get("comment"), "?comment")
    row = store.get(rid, version)
    override = sign_off_gate(runtime, store, runtime.registry.get(f"{rid}@{version}"), row.author)
    retired = store.activate(rid, version, g.principal.name, comment, override)
    runtime.refresh()
    return jsonify(
        {
            "activated": f"{rid}@{version}",
            "retired": retired,
            "overridden": [rule for rule, _ in override[1]] if override else [],
        }
    )


def sign_off_gate(
    runtime: Runtime, store, candidate: Ruleset, author: str, override_reason: str | None = None
) -> tuple[str, list] | None:
    """Maker-checker (``MAKER_CHECKER``): a version whose rules changed is activated only once each changed
    rule is signed off by a legal reviewer other than its publisher.  Rules whose meaning (rule digest) a
    version in force already had count as unchanged, so a rollback needs no new sign-off.

    Returns None to activate, or (reason, [(rule, digest)...]) for a regulator's emergency override
    (``?override_reason=``, required in writing); otherwise 409 listing the rules awaiting sign-off.
    """
    if not current_app.config.get("MAKER_CHECKER"):
        return None
    ever = store.ever_active(candidate.id)
    in_force = [rs for rs in runtime.registry.all() if rs.id == candidate.id and rs.version in ever]
    unsigned = unsigned_changes(candidate, in_force_digests(in_force), store.approvals(candidate.id), author)
    if not unsigned:
        return None
    reason = ((request.args.get("override_reason") if override_reason is None else override_reason) or "").strip()
    if not reason:
        raise ApiError(
            409,
            "sign_off_required",
            f"{len(unsigned)} changed rule(s) of {candidate.ref} await sign-off by a legal reviewer "
            f"other than {author}; in an emergency a regulator may activate with override_reason",
            rules=unsigned,
        )
    if len(reason) > 2000:
        raise ApiError(
            400,
            "invalid_request",
            "override_reason too long",
            [{"path": "override_reason", "message": "at most 2000 characters"}],
        )
    return reason, [(u["rule"], u["rule_digest"]) for u in unsigned]


@bp.get("/v1/audit")
@bp.alt_response(200, schema=AuditSchema, success=True, description="Entries, oldest first")
@operation(
    "legal",
    "regulator",
    errors={400: "?after or ?limit out of range", 503: None},
    parameters=[
        query(
            "after",
            "entries with an id after this one",
            {"type": "integer", "minimum": 0, "maximum": MAX_ENTRY_ID, "default": 0},
        ),
        query("limit", "at most this many entries", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
    ],
)
def audit():
    """The append-only audit log"""
    after = int_arg("after", 0, 0, MAX_ENTRY_ID)
    limit = int_arg("limit", 100, 1, 1000)
    return jsonify({"entries": _store(_runtime()).audit(limit=limit, after=after)})
