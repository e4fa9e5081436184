"""One rule as a legal reviewer sees it, for both the JSON API and the rule page.

The rule's YAML as written, its conditions in plain Chinese and English, the
provisions it cites with their text, the readings it chose where a text is open
(its interpretations), the parameters it reads with their own
citations, its consequences, the scenarios that exercise it (where it fires,
and where it must not), and its sign-off state.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from flask import current_app
from policy.store import SQLAlchemyError

from api.errors import ApiError
from api.scenarios import Scenario, exercising, load_library, scenarios_from
from policy import expr as E
from policy import plain
from policy.functions import from_day
from policy.interpretations import register, rule_interpretations
from policy.batches import cited_by
from policy.instruments import Instrument
from policy.model import BatchCitation, Parameter, Rule, Ruleset
from policy.results import citation_json
from policy.review import review_state, rule_dependencies, rule_digest, standing_override


def find_rule(ref: str, rule_id: str) -> tuple[Ruleset, Rule]:
    """The version and its rule, or a 404.

    A version just published through another instance is looked for again after a registry refresh,
    rather than reported missing until the next poll (a reviewer signs off right after publication).
    """
    runtime = current_app.extensions["repolicy"]
    for attempt in (1, 2):
        try:
            rs = runtime.registry.get(ref)
            return rs, rs.rule(rule_id)
        except LookupError:
            if attempt == 2 or not _refreshed(runtime):
                raise ApiError(404, "not_found", f"no rule {rule_id} in {ref}") from None
    raise AssertionError("unreachable")


def _refreshed(runtime) -> bool:
    try:
        return runtime.refresh()
    except SQLAlchemyError:  # the database is away: what this instance has is all there is
        return False


def sign_off(rs: Ruleset, rule: Rule, reviewer: str, comment: str | None) -> dict[str, Any]:
    """Record a legal reviewer's approval of the rule as it stands in this version (503 without a database)."""
    store = current_app.extensions["repolicy"].store
    if store is None:
        raise ApiError(503, "unavailable", "sign-offs need the registry database, which is not configured")
    try:
        return store.record_approval(
            ruleset_id=rs.id,
            version=rs.version,
            rule_id=rule.id,
            rule_digest=rule_digest(rs, rule),
            reviewer=reviewer,
            comment=comment,
        )
    except SQLAlchemyError as exc:
        raise ApiError(503, "unavailable", f"registry database unreachable: {type(exc).__name__}") from None


def rule_source(source: str, rules, rule) -> str:
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


def scenario_library() -> list[Scenario]:
    """The shipped scenario library, read once per process."""
    ext = current_app.extensions
    if "repolicy_scenarios" not in ext:
        ext["repolicy_scenarios"] = load_library(
            current_app.config.get("SCENARIOS_DIR") or current_app.config["RULESETS_DIR"] / "scenarios"
        )
    return ext["repolicy_scenarios"]


def _scenario_json(s: Scenario) -> dict[str, Any]:
    return {
        "name": s.name,
        "file": s.file.rsplit("rulesets/", 1)[-1],
        "line": s.line,
        "source": s.source,
        "as_of": s.body.get("as_of"),
        "expect": [{k: e[k] for k in ("rule", "subject", "period") if k in e} for e in s.expect],
    }


def rule_scenarios(rs: Ruleset, rule: Rule) -> dict[str, list[dict[str, Any]]]:
    """The scenarios of the library and of the version itself that exercise the rule."""
    pool = list(scenario_library())
    own = rs.extra.get("scenarios")
    if own:
        pool += scenarios_from(own, rs.ref)
    fires, holds = exercising(pool, rs.ref, rule)
    return {"fires": [_scenario_json(s) for s in fires], "does_not_fire": [_scenario_json(s) for s in holds]}


def rule_review(rs: Ruleset, rule: Rule) -> dict[str, Any]:
    """Sign-off state from the store; ``unknown`` (with the reason) when there is no database."""
    store = current_app.extensions["repolicy"].store
    if store is None:
        return {"status": "unknown", "reason": "no registry database"}
    try:
        state = review_state(rs, rule, store.approvals(rs.id, rule.id))
        override = standing_override(rs, rule, store.overrides(rs.id, rule.id), state)
        return {**state, "override": override} if override else state
    except Exception as exc:  # the database went away: the page still shows the rule
        return {"status": "unknown", "reason": f"registry database unreachable: {type(exc).__name__}"}


def interpretation_register(instrument_id: str) -> list[dict[str, Any]]:
    """Every interpretation recorded on a rule citing the instrument, in the versions not retired (404 if unknown)."""
    runtime = current_app.extensions["repolicy"]
    if instrument_id not in runtime.instruments:
        raise ApiError(404, "not_found", f"no instrument {instrument_id}")
    registry = runtime.registry
    versions = [(rs, registry.status(rs.ref)) for rs in registry.all() if registry.status(rs.ref) != "retired"]
    return register(instrument_id, versions, runtime.instruments)


def parameter_value(p: Parameter) -> Any:
    """A parameter's value as written in the ruleset: a date as YYYY-MM-DD, not the day number it is kept as."""
    return from_day(p.value).isoformat() if p.type == "date" and isinstance(p.value, int) else p.value


def batch_citations_view(rs: Ruleset, rule: Rule, instruments: Mapping[str, Instrument]) -> list[dict[str, Any]]:
    """Each ``{batch_of: alias}`` citation of the rule, with what a finding of each batch cites by it.

    ``citations`` lists every provision the rule may cite; a finding cites only those of its facts' batches."""
    return [
        {
            "batch_of": e.alias,
            "eid": e.eid,
            "batches": [
                {
                    "batch": b.id,
                    "label": dict(b.label),
                    "notice": b.notice,
                    "citations": [citation_json(c, instruments) for c in cited_by(b, e)],
                }
                for b in rs.batches.values()
            ],
        }
        for e in rule.citation_entries
        if isinstance(e, BatchCitation)
    ]


def rule_view(rs: Ruleset, rule: Rule) -> dict[str, Any]:
    runtime = current_app.extensions["repolicy"]
    deps = rule_dependencies(rs, rule)
    when = plain.render_patterns(rs, rule, "zh"), plain.render_patterns(rs, rule, "en")
    return {
        "ruleset": rs.ref,
        "ruleset_status": runtime.registry.status(rs.ref),
        "digest": rs.digest,
        "instrument_status": rs.instrument_status,
        "id": rule.id,
        "title": dict(rule.title),
        "description": dict(rule.description) if rule.description else None,
        "severity": rule.severity,
        "yaml": rule_source(rs.source, rs.rules, rule),
        "plain": plain.render_rule(rs, rule),
        "when": [
            {
                "fact": p.fact,
                "as": p.alias,
                "absent": p.negated,
                "condition": E.to_text(p.where) if p.where is not None else None,
                "plain": {"zh": when[0][i], "en": when[1][i]},
            }
            for i, p in enumerate(rule.patterns)
        ],
        "citations": [citation_json(c, runtime.instruments) for c in rule.citations],
        "batch_citations": batch_citations_view(rs, rule, runtime.instruments),
        "interpretations": rule_interpretations(rule, runtime.instruments),
        "parameters": [
            {
                "name": n,
                "value": parameter_value(rs.parameters[n]),
                "type": rs.parameters[n].type,
                "unit": rs.parameters[n].unit,
                "label": dict(rs.parameters[n].label),
                "citations": [citation_json(c, runtime.instruments) for c in rs.parameters[n].citations],
            }
            for n in deps["parameters"]
        ],
        "computed": [
            {
                "field": c.field,
                "list": c.list,
                "value": E.to_text(c.value),
                "description": dict(c.description) if c.description else None,
            }
            for c in rs.computed
            if f"{c.list}.{c.field}" in deps["computed"]
        ],
        "consequences": [
            {
                "type": c.type,
                "description": dict(c.description) if c.description else None,
                "citation": citation_json(c.citation, runtime.instruments),
            }
            for c in rule.consequences
        ],
        "scenarios": rule_scenarios(rs, rule),
        "review": rule_review(rs, rule),
    }
