"""The evaluate response body: the versions chosen for a request, what their engines found, rendered
as the contract's violations (``docs/contract-evaluate-v1.md``).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from collections.abc import Mapping

from engine.prepare import RequestFacts
from policy import results
from policy.facts import FACT_LISTS
from policy.force import Timing, binding
from policy.ids import new_id

if TYPE_CHECKING:
    from api.runtime import Runtime


def fact_years(facts: Mapping[str, list[dict[str, Any]]]) -> set[int]:
    """Years the request's dated facts concern (for choosing annual rulesets)."""
    years: set[int] = set()
    for name, lst in FACT_LISTS.items():
        if lst.time_field is None:
            continue
        for fact in facts.get(name) or ():
            value = fact.get(lst.time_field)
            if value is not None:
                years.add(int(str(value)[:4]))
    return years


def evaluation_body(
    runtime: Runtime,
    facts: Mapping[str, list[dict[str, Any]]],
    as_of: dt.date,
    pins: list[str] | None = None,
    decision_id: str | None = None,
    max_violations: int | None = None,
) -> dict[str, Any]:
    """Evaluate validated facts with ``runtime``'s snapshot and engines; the response body of the contract.

    ``max_violations``: at most that many violations are rendered and returned, the first in the
    contract's order; the summary still counts all, and ``truncated`` says how many were left out.

    ``decision_id`` lets the caller choose the id beforehand, so a request that fails can still be
    named in its error response and log; by default a fresh one.  An exception from a ruleset's
    engine carries a note naming the ruleset version.
    """
    registry = runtime.registry  # one snapshot for the whole evaluation
    chosen, warnings = registry.select(pins, fact_years(facts), as_of)
    pinned = set(pins or ())
    violations: list[dict[str, Any]] = []
    tally: dict[str, int] = {}
    non_binding = 0  # violations found under a draft (pinned), rendered or not
    used = []
    request = RequestFacts(facts)  # normalised once, shared by the rulesets
    groups = {e["id"]: e.get("group") for e in facts.get("enterprises") or ()}
    for rs in chosen:
        try:
            outcome = runtime.engine(rs).evaluate(request, as_of)
        except Exception as exc:
            exc.add_note(f"while evaluating {rs.ref} (digest {rs.digest})")
            raise
        timing = Timing(rs, runtime.instruments.get(rs.instrument), as_of, rs.ref in pinned)
        matches = [m for m in outcome.matches if timing.admits(m.rule, m.bindings)]
        found_before = sum(tally.values())
        violations.extend(
            results.violations(
                rs, matches, runtime.instruments, groups, as_of.toordinal(), limit=max_violations, tally=tally
            )
        )
        if not binding(rs):
            non_binding += sum(tally.values()) - found_before
        for w in outcome.warnings:
            if w not in warnings:
                warnings.append(w)
        # "status" is the legal status of the instrument the version encodes (draft / in_force),
        # "lifecycle" the version's state in the registry (draft / active / retired).
        used.append(
            {
                "id": rs.id,
                "version": rs.version,
                "status": rs.instrument_status,
                "digest": rs.digest,
                "instrument": rs.instrument,
                "lifecycle": registry.status(rs.ref),
            }
        )
    violations = results.sort_violations(violations)[:max_violations]
    found = sum(tally.values())
    body: dict[str, Any] = {
        "decision_id": decision_id or new_id(),
        "as_of": as_of.isoformat(),
        "rulesets": used,
        "violations": violations,
        "summary": results.summary(violations, tally, non_binding),
    }
    if found > len(violations):
        body["truncated"] = {
            "violations_returned": len(violations),
            "violations_found": found,
            "reason": "max_violations",
        }
    if warnings:
        body["warnings"] = warnings
    return body
