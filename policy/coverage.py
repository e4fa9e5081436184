"""Which rules implement each provision, and why the others are out of scope.

Legal reviewers start from a provision and ask "what enforces this?".  The
answer is derived, never hand-kept: every citation of every ruleset (its
rules, their consequences, its parameters, its responsibility clause) marks
the provision implemented; ``rulesets/coverage.yaml`` gives the reason for
each provision left out, and (``not_a_violation``) quotes the sentences of a
provision that no rule enforces because they are no duty (an exhortation such
as "加快推进…建设"), with the reason.  A parent provision whose children are
all covered is covered through them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from policy.instruments import Instrument
from policy.model import Citation, Ruleset
from policy.yamlsource import load_yaml

COVERAGE_FILE = Path(__file__).resolve().parent.parent / "rulesets" / "coverage.yaml"


@dataclass
class ProvisionCoverage:
    eid: str
    implemented_by: list[str] = field(default_factory=list)  # "ruleset@version rule-id" or "... parameter x"
    out_of_scope: dict[str, str] | None = None
    through_children: bool = False
    # a sentence of the provision that is not a duty: {"text": quoted sentence, "zh": reason, "en": reason}
    not_a_violation: dict[str, str] | None = None

    @property
    def status(self) -> str:
        if self.implemented_by:
            return "implemented"
        if self.through_children:
            return "implemented_through_children"
        if self.out_of_scope:
            return "out_of_scope"
        return "gap"


def _citations(rs: Ruleset) -> Iterable[tuple[Citation, str]]:
    for rule in rs.rules:
        for c in rule.citations:
            yield c, f"{rs.ref} {rule.id}"
        for cons in rule.consequences:
            yield cons.citation, f"{rs.ref} {rule.id} ({cons.type})"
    for p in rs.parameters.values():
        for c in p.citations:
            yield c, f"{rs.ref} parameter {p.name}"
    if rs.responsibility:
        yield rs.responsibility.citation, f"{rs.ref} responsibility"


def _section(key: str, path: Path) -> dict[str, dict[str, dict[str, str]]]:
    doc = load_yaml(path.read_bytes())
    return {inst: {eid: dict(entry) for eid, entry in (body.get(key) or {}).items()}
            for inst, body in (doc.get("instruments") or {}).items()}


def load_out_of_scope(path: Path = COVERAGE_FILE) -> dict[str, dict[str, dict[str, str]]]:
    """Instrument -> provision -> the reason (zh, en) it has no rule."""
    return _section("out_of_scope", path)


def load_not_a_violation(path: Path = COVERAGE_FILE) -> dict[str, dict[str, dict[str, str]]]:
    """Instrument -> provision -> the sentence (``text``) that is no duty, and the reason (zh, en)."""
    return _section("not_a_violation", path)


def coverage(instrument: Instrument, rulesets: Iterable[Ruleset],
             out_of_scope: Mapping[str, Mapping[str, str]],
             not_a_violation: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, ProvisionCoverage]:
    """Coverage of every provision of one instrument, in document order."""
    notes = not_a_violation or {}
    out = {eid: ProvisionCoverage(eid, out_of_scope=dict(out_of_scope[eid]) if eid in out_of_scope else None,
                                  not_a_violation=dict(notes[eid]) if eid in notes else None)
           for eid in instrument.provisions}
    for rs in rulesets:
        for citation, by in _citations(rs):
            if citation.instrument == instrument.id and by not in out[citation.eid].implemented_by:
                out[citation.eid].implemented_by.append(by)
    for eid in reversed(list(instrument.provisions)):  # children before parents
        prov = instrument.provisions[eid]
        if prov.children and all(out[c].status != "gap" for c in prov.children):
            out[eid].through_children = True
    return out
