"""What a candidate ruleset version changes in recorded decisions, finding by finding.

A finding is identified by what it says, not by the version that said it:
the ruleset's id (not its version), the rule id, the subject, the period and
the details.  A rule left unchanged in a new version therefore yields the
same findings and no change (comparing by version name made every finding
of a replaced version show as removed and re-added).  The same rule,
subject and period with other details (a raised threshold the finding
quotes) is *restated*, not removed and added.

:class:`ImpactTally` adds up the per-decision comparisons (counts first, by
rule) so that any number of decisions, compared in any number of processes,
are summarised by merging tallies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable

FindingKey = tuple[str, str, str, str, str, str]


def finding_key(violation: dict[str, Any]) -> FindingKey:
    """The identity of a finding: ruleset id, rule, subject type and id, period, details (canonical JSON)."""
    ruleset_id = str(violation["ruleset"]).partition("@")[0]
    return (
        ruleset_id,
        violation["rule"],
        violation["subject"]["type"],
        str(violation["subject"]["id"]),
        str(violation.get("period", "")),
        json.dumps(violation.get("details") or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":")),
    )


def finding_json(key: FindingKey) -> dict[str, Any]:
    """A finding key as the impact report shows it."""
    ruleset_id, rule, subject_type, subject_id, period, details = key
    out: dict[str, Any] = {"ruleset": ruleset_id, "rule": rule, "subject": {"type": subject_type, "id": subject_id}}
    if period:
        out["period"] = period
    out["details"] = json.loads(details)
    return out


def finding_line(finding: dict[str, Any]) -> str:
    """One line for a person: rule, subject, period, then the details."""
    details = ", ".join(f"{k}={v}" for k, v in finding["details"].items())
    period = f" {finding['period']}" if finding.get("period") else ""
    return f"{finding['ruleset']} {finding['rule']} {finding['subject']['type']}:{finding['subject']['id']}{period}" + (
        f" ({details})" if details else ""
    )


def compare(before: Iterable[dict[str, Any]], after: Iterable[dict[str, Any]]) -> Change:
    """Findings only in ``after`` (added), only in ``before`` (removed), and restated: the same rule, subject
    and period on both sides, once each, with other details (e.g. a raised threshold quoted in them)."""
    b = {finding_key(v) for v in before}
    a = {finding_key(v) for v in after}
    added, removed = a - b, b - a
    by_place: dict[tuple[str, ...], list[list[FindingKey]]] = {}  # (ruleset, rule, subject, period) -> sides
    for side, keys in ((0, removed), (1, added)):
        for key in keys:
            by_place.setdefault(key[:5], [[], []])[side].append(key)
    restated = []
    for old, new in by_place.values():
        if len(old) == 1 and len(new) == 1:
            restated.append((old[0], new[0]))
            removed.discard(old[0])
            added.discard(new[0])
    return Change(sorted(added), sorted(removed), sorted(restated))


@dataclass(frozen=True)
class Change:
    """One decision's difference between the current and the candidate versions."""

    added: list[FindingKey]
    removed: list[FindingKey]
    restated: list[tuple[FindingKey, FindingKey]]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.restated)


@dataclass
class ImpactTally:
    """Counts over compared decisions, and the decisions whose findings change."""

    examined: int = 0
    skipped_pinned: int = 0
    added_by_rule: dict[str, int] = field(default_factory=dict)
    removed_by_rule: dict[str, int] = field(default_factory=dict)
    restated_by_rule: dict[str, int] = field(default_factory=dict)
    changed: list[dict[str, Any]] = field(default_factory=list)
    not_evaluated: list[dict[str, Any]] = field(default_factory=list)  # {decision_id, error}

    def add(self, decision: dict[str, Any], change: Change) -> None:
        """One examined decision (``decision`` carries ``decision_id`` and ``at``)."""
        self.examined += 1
        if not change:
            return
        for keys, by_rule in (
            (change.added, self.added_by_rule),
            (change.removed, self.removed_by_rule),
            ([new for _, new in change.restated], self.restated_by_rule),
        ):
            for key in keys:
                rule = f"{key[0]} {key[1]}"
                by_rule[rule] = by_rule.get(rule, 0) + 1
        self.changed.append(
            {
                "decision_id": decision["decision_id"],
                "at": decision["at"],
                "added": [finding_json(k) for k in change.added],
                "removed": [finding_json(k) for k in change.removed],
                "restated": [{"before": finding_json(old), "after": finding_json(new)} for old, new in change.restated],
            }
        )

    def merge(self, other: ImpactTally) -> None:
        self.examined += other.examined
        self.skipped_pinned += other.skipped_pinned
        for mine, theirs in (
            (self.added_by_rule, other.added_by_rule),
            (self.removed_by_rule, other.removed_by_rule),
            (self.restated_by_rule, other.restated_by_rule),
        ):
            for rule, n in theirs.items():
                mine[rule] = mine.get(rule, 0) + n
        self.changed.extend(other.changed)
        self.not_evaluated.extend(other.not_evaluated)

    def report(self) -> dict[str, Any]:
        """Counts first, then the changed decisions (newest first, as examined)."""
        rules = sorted(set(self.added_by_rule) | set(self.removed_by_rule) | set(self.restated_by_rule))
        return {
            "decisions_examined": self.examined,
            "decisions_skipped_pinned": self.skipped_pinned,
            "decisions_not_evaluated": len(self.not_evaluated),
            "decisions_changed": len(self.changed),
            "findings_added": sum(self.added_by_rule.values()),
            "findings_removed": sum(self.removed_by_rule.values()),
            "findings_restated": sum(self.restated_by_rule.values()),
            "by_rule": [
                {
                    "ruleset": r.partition(" ")[0],
                    "rule": r.partition(" ")[2],
                    "added": self.added_by_rule.get(r, 0),
                    "removed": self.removed_by_rule.get(r, 0),
                    "restated": self.restated_by_rule.get(r, 0),
                }
                for r in rules
            ],
            "not_evaluated": self.not_evaluated,
            "changed": sorted(self.changed, key=lambda c: (c["at"] or "", c["decision_id"]), reverse=True),
        }
