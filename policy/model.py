"""What a validated ruleset is: plain, immutable data.

A :class:`Ruleset` is produced only by :func:`policy.loader.load_ruleset`, which
checks everything a regulator can get wrong; the engine and the API may then
rely on every field being well-formed (every condition type-checked, every
citation resolving to a provision of a known instrument).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping

from policy.expr import Node
from policy.yamlsource import Location

SEVERITIES = ("critical", "serious", "major", "minor")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
RULESET_STATUSES = ("draft", "active", "retired")


@dataclass(frozen=True)
class Citation:
    instrument: str
    eid: str


@dataclass(frozen=True)
class BatchCitation:
    """A rule's citation entry ``{batch_of: alias[, eid: ...]}``: the citations of the batch of the fact bound to
    ``alias``, resolved per finding (:func:`policy.batches.finding_citations`); only those of provision ``eid``
    when given.  A split of the third batch then cites the third batch's notice, not every batch's."""

    alias: str
    eid: str | None = None


@dataclass(frozen=True)
class Parameter:
    """A figure or deadline the rules use, with the provision it comes from."""

    name: str
    value: Any  # number, text, or a day number for a date
    type: str  # number | string | date
    unit: str | None
    label: Mapping[str, str]
    citations: tuple[Citation, ...]
    note: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Batch:
    """One batch of a year's quotas, issued by its own notice with its own split deadline.

    The quotas of a year come in batches (2023: first batch 工信部联原〔2023〕23号, ten working
    days to split; third batch 〔2023〕245号 of 2023-12-14, three working days): an allocation or a
    group quota naming its ``batch`` is judged against that batch's figures (:mod:`policy.batches`).
    """

    id: str
    label: Mapping[str, str]
    notice: str | None  # the document number of the notice that issued it
    issued_on: int | None  # day number; None: not known, so its split deadline is unknown
    split_working_days: int | None
    totals: Mapping[str, float]  # activity -> t REO: the annual totals the notice states
    citations: tuple[Citation, ...]
    note: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Aggregate:
    """A derived fact list: sums and counts of a list grouped by keys."""

    name: str
    source: str
    group_by: tuple[str, ...]
    sums: Mapping[str, str]  # output field -> source field
    count: str | None
    where: Node | None
    alias: str
    description: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Computed:
    """A field computed on each fact of a list before matching (e.g. a due date)."""

    list: str
    alias: str
    field: str
    type: str
    value: Node
    description: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Pattern:
    """One fact a rule matches (``when``) or requires to be absent (``unless``)."""

    alias: str
    fact: str
    where: Node | None
    negated: bool
    location: Location


@dataclass(frozen=True)
class Interpretation:
    """A reading chosen where the cited text is open, recorded for the legal reviewer.

    The rule applies ``reading``; ``alternative`` is the reading not taken and
    ``reason`` why (the literal reading is preferred).  Being part of the rule's
    YAML, it is part of the rule's sign-off digest: changing it lapses the sign-off.
    """

    question: Mapping[str, str]
    reading: Mapping[str, str]
    alternative: Mapping[str, str]
    reason: Mapping[str, str]
    citation: Citation | None = None  # the provision whose wording is open, when not the rule's first


@dataclass(frozen=True)
class Consequence:
    type: str
    citation: Citation
    values: Mapping[str, Node]  # evaluated over the violation's details
    description: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    title: Mapping[str, str]
    message: Mapping[str, str]
    severity: str
    subject_type: str | Node  # a type, or a field giving it (e.g. a report's level)
    subject_id: Node
    period: Node | None
    patterns: tuple[Pattern, ...]
    details: Mapping[str, Node]
    citations: tuple[Citation, ...]
    consequences: tuple[Consequence, ...]
    description: Mapping[str, str] | None
    location: Location
    value_types: Mapping[str, str] = field(default_factory=dict)  # detail name / "period" -> type
    interpretations: tuple[Interpretation, ...] = ()
    # The ``citations`` entries in their order when some are ``{batch_of: alias}`` (else empty): ``citations``
    # above then holds every provision a finding may cite (each batch's), a finding only its own batch's.
    citation_entries: tuple[Citation | BatchCitation, ...] = ()

    def required_fields(self) -> dict[str, list[str]]:
        """Per alias, the fields that must be known for the rule to match.

        Those read by the top-level ``and`` parts of the conditions and by the
        subject; inside an ``or`` only the fields of *other* facts (a branch
        reading an unknown field of its own fact simply does not hold, so
        another branch can still make the ``or`` hold: three-valued logic).
        The engine and the reference evaluator both use this definition.
        """
        from policy import expr as E

        out: dict[str, list[str]] = {}

        def add(alias: str, name: str) -> None:
            names = out.setdefault(alias, [])
            if name not in names:
                names.append(name)

        for p in self.patterns:
            if p.where is None:
                continue
            for part in E.conjuncts(E.push_not(p.where)):
                nested = isinstance(part, E.BoolOp)
                for ref in E.field_refs(part):
                    if not nested or ref.alias != p.alias:
                        add(ref.alias, ref.name)
        subject = [self.subject_id] + ([self.subject_type] if not isinstance(self.subject_type, str) else [])
        for node in subject:
            for ref in E.field_refs(node):
                add(ref.alias, ref.name)
        negated = {p.alias for p in self.negative}
        return {a: names for a, names in out.items() if a not in negated}

    @property
    def positive(self) -> tuple[Pattern, ...]:
        return tuple(p for p in self.patterns if not p.negated)

    @property
    def negative(self) -> tuple[Pattern, ...]:
        return tuple(p for p in self.patterns if p.negated)


@dataclass(frozen=True)
class Responsibility:
    """Who answers for an enterprise's violation (e.g. Measures Art. 6: the group overall, the enterprise primarily)."""

    citation: Citation
    group_role: Mapping[str, str] | None
    enterprise_role: Mapping[str, str]


@dataclass(frozen=True)
class Ruleset:
    id: str
    version: str
    title: Mapping[str, str]
    status: str
    instrument: str
    instrument_status: str
    effective_from: int | None  # day numbers; None = open
    effective_to: int | None
    parameters: Mapping[str, Parameter]
    aggregates: Mapping[str, Aggregate]
    computed: tuple[Computed, ...]
    rules: tuple[Rule, ...]
    fact_fields: Mapping[str, Mapping[str, tuple[str, tuple[str, ...]]]]  # list -> field -> (type, enum)
    source: str
    digest: str
    path: str
    description: Mapping[str, str] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    responsibility: Responsibility | None = None
    # first day of the facts the ruleset reads when earlier than ``effective_from`` (an annual quota counts the
    # months of its year before the entry into force); None: the effective period bounds the facts read too
    reads_facts_from: int | None = None
    batches: Mapping[str, Batch] = field(default_factory=dict)  # batch id -> its notice, dates and totals

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(f"{self.ref} has no rule {rule_id!r}")

    def fact_fields_by_alias(self, rule: Rule) -> dict[str, Mapping[str, tuple[str, tuple[str, ...]]]]:
        """The condition fields of each fact a rule binds (for rendering its conditions)."""
        return {p.alias: self.fact_fields[p.fact] for p in rule.patterns}

    @property
    def param_values(self) -> dict[str, Any]:
        return {name: p.value for name, p in self.parameters.items()}
