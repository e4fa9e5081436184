"""A parameter edit made on a rule's page, taken to a new draft version and everything a regulator checks next.

The steps are those of the command line (docs/regulators.md), in one place: the YAML edited in place
(:mod:`policy.param_edit`), validated and compiled, the version's own scenarios run, stored as a **draft**
with the regulator as author (it judges nothing until activated); then the draft's page shows the change in
words, the scenario library re-run against it (every scenario pinned to the version it derives from, pinned
to the draft instead), the impact preview on the recorded decisions (a job, :mod:`api.impact`), the legal
sign-off of each changed rule (maker-checker, on the rule pages) and the activation form.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from collections.abc import Mapping

from flask import current_app
from policy.store import SQLAlchemyError

from api.errors import ApiError
from api.impact import job_state, parse_limit, start_job
from api.ruleset_versions import _runtime, own_scenario_failures, sign_off_gate
from api.ruleset_versions import _store as registry_store
from api.rule_view import rule_review, scenario_library
from api.scenarios import describe, run_scenario
from engine import Engine
from api.store_seeding import version_record
from policy.diff import diff
from policy.loader import RulesetInvalid, load_ruleset
from policy.model import Ruleset
from policy.param_edit import Change, EditError, edit_parameters, figures_in_texts, parse_value, shown
from policy.review import rule_digest
from policy.store import VersionConflict

MAX_SCENARIOS_SHOWN = 200


def _store():
    return registry_store(_runtime())  # 503 when the instance has no registry database


def publish_edit(
    base: Ruleset, version: str, values: Mapping[str, str], author: str, comment: str | None
) -> tuple[Ruleset, str]:
    """The new draft version (stored) and the id of its impact preview over every recorded decision.

    EditError says what is wrong with the form; ApiError (422) carries the validator's issues or the failing
    scenarios, as publishing the file would.
    """
    runtime = _runtime()
    store = _store()
    parsed = {}
    for name, text in values.items():
        param = base.parameters.get(name)
        if param is None:
            raise EditError(f"{base.ref} has no parameter {name!r}", f"{base.ref} 没有参数 {name!r}")
        if text.strip() != shown(param):
            parsed[name] = parse_value(param, text)
    if not parsed:
        raise EditError("no parameter was changed", "没有修改任何参数")
    source = edit_parameters(base.source, version, parsed)
    display = f"{base.ref} edited on its rule page"
    try:
        candidate = load_ruleset(source, display, runtime.instruments)
    except RulesetInvalid as exc:
        raise ApiError(
            422,
            "invalid_ruleset",
            f"{len(exc.issues)} problem(s) in the edited ruleset",
            issues=[i.as_dict() for i in exc.issues],
        ) from None
    Engine(candidate).close()  # it compiles and loads into the engine
    failures = own_scenario_failures(runtime, candidate, display)
    if failures:
        raise ApiError(
            422, "scenarios_failed", f"{len(failures)} of the ruleset's own scenarios failed", scenarios=failures
        )
    record = version_record(candidate, author=author, comment=comment)
    record["status"] = "draft"
    try:
        store.add_version(**record)
    except VersionConflict as exc:
        raise EditError(str(exc), f"版本号 {version} 已被使用，请另取一个") from None
    runtime.refresh(force=True)
    return candidate, start_job(runtime, candidate, author, None)["job_id"]


def preview_impact(draft: Ruleset, actor: str, limit_text: str | None) -> str:
    """The id of a new impact preview of the stored draft over the newest ``limit_text`` recorded decisions (or
    ``all``), as the draft page's form asks; ApiError 400 (path ``limit``) for any other value."""
    limit = parse_limit((limit_text or "").strip(), "limit")
    return start_job(_runtime(), draft, actor, limit)["job_id"]


def parameter_changes(old: Ruleset, new: Ruleset) -> list[Change]:
    return [
        Change(name, shown(p), shown(new.parameters[name]))
        for name, p in old.parameters.items()
        if name in new.parameters and p.value != new.parameters[name].value
    ]


def scenario_runs(old: Ruleset, new: Ruleset) -> list[dict[str, Any]]:
    """The library's scenarios pinned to ``old``, run pinned to ``new`` instead: what the change does to them."""
    runtime = _runtime()
    out = []
    for s in scenario_library():
        pins = s.body.get("rulesets") or []
        if old.ref not in pins:
            continue
        moved = dataclasses.replace(
            s,
            body={**s.body, "rulesets": [new.ref if p == old.ref else p for p in pins]},
            expect=[e for e in s.expect if e.get("ruleset") in (None, old.ref)],
        )
        outcome = run_scenario(runtime, moved, current_app.config["MAX_FACTS"])
        shown_file = _shown_file(s.file)
        text = describe(dataclasses.replace(outcome, scenario=dataclasses.replace(s, file=shown_file)))
        out.append(
            {
                "passed": outcome.passed,
                "text": text,  # in English, as `repolicy test` prints it
                "name": s.name,
                "where": f"{shown_file}:{s.line}",  # and the parts, for the page to say in Chinese
                "missing": [_finding(k) for k in outcome.missing],
                "unexpected": [_finding(k) for k in outcome.unexpected],
                "problems": outcome.problems,
            }
        )
        if len(out) >= MAX_SCENARIOS_SHOWN:
            break
    return out


def _finding(key: tuple) -> str:
    """An expected or found finding as ``describe`` names it: rule, subject, period."""
    return f"{key[1]} {key[2]} {key[3] or ''}".rstrip()


def _shown_file(path: str) -> str:
    """A scenario file as the project names it (``rulesets/scenarios/…``), not where this server keeps it."""
    return "rulesets/" + path.rsplit("rulesets/", 1)[1] if "rulesets/" in path else path.rsplit("/", 1)[-1]


def changed_rules(old: Ruleset, new: Ruleset) -> list[dict[str, Any]]:
    """The rules whose meaning changed (rule digest), each with its sign-off state in the draft."""
    before = {r.id: rule_digest(old, r) for r in old.rules}
    return [
        {"id": r.id, "title": r.title, "review": rule_review(new, r)}
        for r in new.rules
        if before.get(r.id) != rule_digest(new, r)
    ]


def impact(job_id: str | None) -> dict[str, Any] | None:
    if not job_id:
        return None
    try:
        return job_state(job_id)
    except ApiError as exc:
        return {"status": "failed", "error": exc.message}


def draft_page(old: Ruleset, new: Ruleset, job_id: str | None) -> dict[str, Any]:
    """Everything the draft's page shows."""
    changes = parameter_changes(old, new)
    return {
        "lines": diff(old, new),
        "texts": figures_in_texts(new.source, changes),
        "scenarios": scenario_runs(old, new),
        "rules": changed_rules(old, new),
        "impact": impact(job_id),
        "status": _runtime().registry.status(new.ref),
    }


def author_of(ruleset: Ruleset) -> str:
    """Who published a version (the maker of maker-checker); empty when the registry has no record of it."""
    row = _store().get(ruleset.id, ruleset.version)
    return row.author if row is not None else ""


def activate(ruleset: Ruleset, actor: str, comment: str | None, override_reason: str | None) -> list[str]:
    """Activate a draft as ``POST /v1/rulesets/{id}/{version}/activate`` does (409 while sign-offs are missing)."""
    runtime, store = _runtime(), _store()
    try:
        row = store.get(ruleset.id, ruleset.version)
        if row is None:
            raise ApiError(404, "not_found", f"no ruleset version {ruleset.ref}")
        runtime.engine(ruleset)  # compiled before the switch
        override = sign_off_gate(runtime, store, ruleset, row.author, override_reason or "")
        retired = store.activate(ruleset.id, ruleset.version, actor, comment, override)
    except SQLAlchemyError as exc:
        raise ApiError(503, "unavailable", f"registry database unreachable: {type(exc).__name__}") from None
    runtime.refresh(force=True)
    return retired
