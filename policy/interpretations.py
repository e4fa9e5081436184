"""The interpretive choices recorded on rules, as a legal reviewer reads them.

Why this module exists: where a cited text is open (is "A和B" one condition or
two? does "及时" set a deadline?), the rule applies one reading and records it
(``interpretation`` in the rule's YAML, :class:`policy.model.Interpretation`).
A reviewer must be able to see each choice where the rule is shown, find every
choice made on an instrument in one register, and know which findings depend
on one.  This module shapes them for those three places; the API and the pages
only display what it returns.  (Each violation's own note, the questions and
readings it depends on, is rendered with the violation in ``policy.results``.)
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable, Mapping

from policy.force import binding
from policy.instruments import Instrument
from policy.model import Citation, Interpretation, Rule, Ruleset
from policy.results import citation_json

__all__ = ["interpretation_json", "open_provision", "register", "rule_interpretations"]


def open_provision(rule: Rule, interp: Interpretation) -> Citation:
    """The provision whose wording is open: the interpretation's own citation, else the rule's first."""
    return interp.citation or rule.citations[0]


def interpretation_json(rule: Rule, interp: Interpretation, instruments: Mapping[str, Instrument]) -> dict[str, Any]:
    """One interpretation in full: the question, the reading applied, the one not taken, why, and where."""
    return {
        "question": dict(interp.question),
        "reading": dict(interp.reading),
        "alternative": dict(interp.alternative),
        "reason": dict(interp.reason),
        "citation": citation_json(open_provision(rule, interp), instruments),
    }


def rule_interpretations(rule: Rule, instruments: Mapping[str, Instrument]) -> list[dict[str, Any]]:
    return [interpretation_json(rule, i, instruments) for i in rule.interpretations]


def _cites(rule: Rule, interp: Interpretation, instrument_id: str) -> bool:
    return open_provision(rule, interp).instrument == instrument_id or any(
        c.instrument == instrument_id for c in rule.citations
    )


def register(
    instrument_id: str, rulesets: Iterable[tuple[Ruleset, str]], instruments: Mapping[str, Instrument]
) -> list[dict[str, Any]]:
    """Every interpretation of every rule citing the instrument, in the given versions (with their status).

    Ordered by the open provision's place in the instrument, then ruleset and rule, so the register reads
    in the order of the text.
    """
    inst = instruments[instrument_id]
    order = {eid: n for n, eid in enumerate(inst.provisions)}
    entries = []
    for rs, lifecycle in rulesets:
        for rule in rs.rules:
            for interp in rule.interpretations:
                if not _cites(rule, interp, instrument_id):
                    continue
                entry = interpretation_json(rule, interp, instruments)
                entries.append(
                    {
                        "ruleset": rs.ref,
                        "lifecycle": lifecycle,
                        "binding": binding(rs),
                        "rule": rule.id,
                        "title": dict(rule.title),
                        **entry,
                    }
                )
    return sorted(
        entries,
        key=lambda e: (
            e["citation"]["instrument"] != instrument_id,
            order.get(e["citation"]["eid"], len(order)),
            e["ruleset"],
            e["rule"],
        ),
    )
