"""Reading and replaying logged decisions.

- ``GET /v1/decisions/<id>`` (legal, regulator)
- ``POST /v1/decisions/<id>/replay`` (legal, regulator): re-evaluates the
  recorded input with the exact versions recorded (pinned, digests checked)
  and says whether the violations are identical.

The impact preview of a candidate version on logged decisions is a job: :mod:`api.impact`.

Decisions are written to the store by the decision log's background writer,
so a decision this process made a moment ago may still be queued: it is
looked up in the queue first, then in the store.  (Another worker process's
queued decision becomes visible once that worker's writer has written it,
normally within milliseconds.)
"""

from __future__ import annotations

import datetime as dt

from flask import current_app, jsonify
from flask_smorest import Blueprint
from policy.store import SQLAlchemyError

from api.decision_log import DecisionLog
from api.errors import ApiError
from api.openapi import operation
from api.schemas import DecisionSchema, ReplaySchema
from api.response_bounds import share_citations
from api.runtime import Runtime
from policy import results

bp = Blueprint("decisions", __name__, description="Logged decisions: reading and replaying them")


def _runtime() -> Runtime:
    return current_app.extensions["repolicy"]


def _store():
    store = _runtime().store
    if store is None:
        raise ApiError(503, "no_registry", "this instance has no database")
    return store


def _decision_log() -> DecisionLog:
    return current_app.extensions["repolicy_decisions"]


def _decision(decision_id: str) -> dict:
    """The decision from this process's queue, else from the store (503 if the store is down)."""
    store = _store()
    d = _decision_log().find(decision_id)  # the queue first: a row leaves it only once committed
    if d is None:
        try:
            d = store.decision(decision_id)
        except SQLAlchemyError as exc:
            raise ApiError(
                503,
                "database_unavailable",
                f"the decision database is unavailable ({type(exc).__name__}); try again later",
            ) from None
    if d is None:
        raise ApiError(404, "not_found", f"no decision {decision_id}")
    return d


def violation_keys(result: dict) -> set[str]:
    return {
        f"{v['ruleset']} {v['rule']} {v['subject']['type']}:{v['subject']['id']} {v.get('period', '')}".strip()
        for v in result["violations"]
    }


@bp.get("/v1/decisions/<name:decision_id>")
@bp.alt_response(200, schema=DecisionSchema, success=True, description="The decision as logged")
@operation("legal", "regulator", errors={404: "No such decision", 503: None})
def get_decision(decision_id: str):
    """One logged decision: its input (or digest), the versions used, the response given"""
    return jsonify(_decision(decision_id))


@bp.post("/v1/decisions/<name:decision_id>/replay")
@bp.alt_response(200, schema=ReplaySchema, success=True, description="The replay and whether it is identical")
@operation(
    "legal",
    "regulator",
    errors={
        404: "No such decision",
        409: "Only the input's digest was logged, or a version used is missing or changed",
        503: None,
    },
)
def replay(decision_id: str):
    """Replay a decision with the exact versions recorded (pinned, digests checked)"""
    d = _decision(decision_id)
    if d["input"] is None:
        raise ApiError(
            409, "input_not_kept", "only the input's digest was logged for this decision; it cannot be replayed"
        )
    runtime = _runtime()
    pins = []
    for rs in d["rulesets"]:
        ref = f"{rs['id']}@{rs['version']}"
        try:
            current = runtime.registry.get(ref)
        except LookupError:
            raise ApiError(409, "version_missing", f"{ref} is no longer in the registry") from None
        if current.digest != rs["digest"]:
            raise ApiError(409, "version_changed", f"{ref} has digest {current.digest}, recorded {rs['digest']}")
        pins.append(ref)
    facts = d["input"]["facts"]
    from api.evaluate import checked_request

    data = checked_request(d["input"], current_app.config["MAX_FACTS"])
    again = runtime.evaluate(
        data["facts"], dt.date.fromisoformat(d["as_of"]), pins, max_violations=current_app.config["MAX_VIOLATIONS"]
    )
    original = d["result"]
    if "citation_texts" in original:  # answered with shared citation texts: compare like with like
        share_citations(again)
    elif "provisions" in original:  # answered with ?citations=refs
        results.cite_by_reference(again["violations"])
    same = original["violations"] == again["violations"] and original["summary"] == again["summary"]
    return jsonify(
        {
            "decision_id": decision_id,
            "identical": same,
            "rulesets": pins,
            "added": sorted(violation_keys(again) - violation_keys(original)),
            "removed": sorted(violation_keys(original) - violation_keys(again)),
            "replay": {k: again[k] for k in ("violations", "summary")},
            "facts_digest": d["input_digest"],
            "facts_count": sum(len(v) for v in facts.values()),
        }
    )
