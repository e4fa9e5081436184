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
from collections.abc import Iterable, Mapping

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
    partly: dict[str, str] | None = None  # what the implementing rules leave out, when they cover only part
    # a sentence of the provision that is not a duty: {"text": quoted sentence, "zh": reason, "en": reason}
    not_a_violation: dict[str, str] | None = None

    @property
    def status(self) -> str:
        if self.implemented_by:
            return "partly_implemented" if self.partly else "implemented"
        if self.through_children:
            return "implemented_through_children"
        if self.out_of_scope:
            return "out_of_scope"
        return "gap"


def ruleset_citations(rs: Ruleset) -> Iterable[tuple[Citation, str]]:
    """Every citation a ruleset makes, with what makes it ("ref rule-id", "ref parameter x", ...)."""
    for rule in rs.rules:
        for c in rule.citations:
            yield c, f"{rs.ref} {rule.id}"
        for cons in rule.consequences:
            yield cons.citation, f"{rs.ref} {rule.id} ({cons.type})"
    for p in rs.parameters.values():
        for c in p.citations:
            yield c, f"{rs.ref} parameter {p.name}"
    for b in rs.batches.values():  # a batch's figures (notice, date, deadline, totals) come from its citations
        for c in b.citations:
            yield c, f"{rs.ref} batch {b.id}"
    if rs.responsibility:
        yield rs.responsibility.citation, f"{rs.ref} responsibility"


# What each status means, for people (Chinese first): the codes stay in the data and the API.
STATUS_LABELS = {
    "implemented": {"zh": "已实现", "en": "implemented"},
    "partly_implemented": {"zh": "部分实现", "en": "partly implemented"},
    "implemented_through_children": {"zh": "经各款项实现", "en": "implemented through its paragraphs/items"},
    "out_of_scope": {"zh": "不纳入", "en": "out of scope"},
    "gap": {"zh": "缺口", "en": "gap"},
}


def _section(section: str, path: Path) -> dict[str, dict[str, dict[str, str]]]:
    doc = load_yaml(path.read_bytes())
    return {
        inst: {eid: dict(reason) for eid, reason in (body.get(section) or {}).items()}
        for inst, body in (doc.get("instruments") or {}).items()
    }


def load_out_of_scope(path: Path = COVERAGE_FILE) -> dict[str, dict[str, dict[str, str]]]:
    """Per instrument, the provisions left out and why (``out_of_scope:`` of coverage.yaml)."""
    return _section("out_of_scope", path)


def load_partly_implemented(path: Path = COVERAGE_FILE) -> dict[str, dict[str, dict[str, str]]]:
    """Per instrument, the provisions the rules implement only in part, with a note on what is left out
    (``partly_implemented:`` of coverage.yaml)."""
    return _section("partly_implemented", path)


def load_not_a_violation(path: Path = COVERAGE_FILE) -> dict[str, dict[str, dict[str, str]]]:
    """Instrument -> provision -> the sentence (``text``) that is no duty, and the reason (zh, en)."""
    return _section("not_a_violation", path)


def coverage(
    instrument: Instrument,
    rulesets: Iterable[Ruleset],
    out_of_scope: Mapping[str, Mapping[str, str]],
    partly: Mapping[str, Mapping[str, str]] | None = None,
    not_a_violation: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, ProvisionCoverage]:
    """Coverage of every provision of one instrument, in document order.

    ``partly``: notes on provisions the rules implement only in part (a note without an implementing
    rule leaves the provision a gap).  ``not_a_violation``: sentences of a provision that are no duty.
    """
    partly = partly or {}
    notes = not_a_violation or {}
    out = {
        eid: ProvisionCoverage(
            eid,
            out_of_scope=dict(out_of_scope[eid]) if eid in out_of_scope else None,
            partly=dict(partly[eid]) if eid in partly else None,
            not_a_violation=dict(notes[eid]) if eid in notes else None,
        )
        for eid in instrument.provisions
    }
    for rs in rulesets:
        for citation, by in ruleset_citations(rs):
            if citation.instrument == instrument.id and by not in out[citation.eid].implemented_by:
                out[citation.eid].implemented_by.append(by)
    for eid in reversed(list(instrument.provisions)):  # children before parents
        prov = instrument.provisions[eid]
        if prov.children and all(out[c].status != "gap" for c in prov.children):
            out[eid].through_children = True
    return out
