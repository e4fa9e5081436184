"""marshmallow schemas of the evaluate request, built from the fact catalogue.

The catalogue (policy/facts.py) is the one description of the facts; these
schemas are generated from it so that the API, the validator and the engine
can never disagree about a field.  Types are strict: ``"5000"`` is not a
number, ``1`` is not a boolean, NaN and Infinity are refused, unknown fields
are errors.
"""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Callable

from marshmallow import INCLUDE, RAISE, Schema, fields, validate

from policy.facts import FACT_LISTS, FactList, WireField
from policy.wire_types import wire_type

# re-exported: the OpenAPI maps the strict fields, and these names were defined here before policy.wire_values
from policy.wire_values import (  # noqa: F401 - the old names of the moved constants and fields, kept
    DATE_RE,
    MAX_NUMBER,
    MONTH_RE,
    PERIOD_RE,
    YEARS,
    DateText,
    StrictBoolean,
    StrictInteger,
    StrictNumber,
    StrictString,
)
from policy.wire_values import is_date as _is_date

PIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*@[A-Za-z0-9._-]+$")


def _field(wf: WireField) -> fields.Field:
    return wire_type(wf).schema_field(wf)


def _list_schema(lst: FactList) -> type[Schema]:
    attrs: dict[str, Any] = {wf.name: _field(wf) for wf in lst.fields}

    class Meta:
        unknown = RAISE

    attrs["Meta"] = Meta
    return Schema.from_dict(attrs, name=f"{lst.name.title().replace('_', '')}Fact")


FACT_SCHEMAS: dict[str, type[Schema]] = {name: _list_schema(lst) for name, lst in FACT_LISTS.items()}


class FactsSchema(Schema):
    class Meta:
        unknown = RAISE


for _name, _schema in FACT_SCHEMAS.items():
    FactsSchema._declared_fields[_name] = fields.List(fields.Nested(_schema), required=False)


class EvaluateRequestSchema(Schema):
    """POST /v1/evaluate body (contract evaluate-v1).

    :meth:`load` first tries :func:`fast_load`, a plain-Python check of the
    same rules that accepts only bodies marshmallow accepts; anything it does
    not accept goes through marshmallow, so every error keeps marshmallow's
    exact path and message.  (marshmallow costs about 40 us per fact, more
    than the whole evaluation of a small request.)
    """

    class Meta:
        unknown = RAISE

    as_of = DateText()
    rulesets = fields.List(StrictString(validate=validate.Regexp(PIN_RE, error="must be id@version")))
    facts = fields.Nested(FactsSchema, required=True)

    def load(self, data, *, many=None, partial=None, unknown=None):  # type: ignore[override]
        if many is None and partial is None and unknown is None:
            fast = fast_load(data)
            if fast is not None:
                return fast
        return super().load(data, many=many, partial=partial, unknown=unknown)


# ---------------------------------------------------------------- fast path of EvaluateRequestSchema.load
Check = Callable[[Any], bool]


def _scalar_check(wf: WireField) -> Check:
    """A predicate true exactly where the marshmallow field of ``wf`` (see :func:`_field`) accepts a non-null value."""
    return wire_type(wf).check(wf)


class _FastList:
    """One fact list's schema as plain predicates, with marshmallow's output key order."""

    def __init__(self, lst: FactList, order: list[str]):
        by_name = {wf.name: wf for wf in lst.fields}
        self.order = tuple(order)
        self.allowed = frozenset(order)
        self.required = tuple(wf.name for wf in lst.fields if wf.required)
        self.nullable = frozenset(wf.name for wf in lst.fields if wf.nullable)
        self.checks = {name: _scalar_check(by_name[name]) for name in order}
        self.copied = frozenset(wf.name for wf in lst.fields if wf.type == "enum_list")

    def load(self, items: Any) -> list[dict[str, Any]] | None:
        if type(items) is not list:
            return None
        out = []
        order, allowed, checks, nullable, copied = self.order, self.allowed, self.checks, self.nullable, self.copied
        for fact in items:
            if type(fact) is not dict or not allowed.issuperset(fact):
                return None
            for name in self.required:
                if name not in fact:
                    return None
            for name, value in fact.items():
                if value is None:
                    if name not in nullable:
                        return None
                elif not checks[name](value):
                    return None
            row = {k: fact[k] for k in order if k in fact}
            for name in copied & row.keys():
                if row[name] is not None:
                    row[name] = list(row[name])
            out.append(row)
        return out


def _build_fast() -> tuple[tuple[str, ...], dict[str, _FastList]]:
    facts_order = tuple(FactsSchema().load_fields)
    lists = {name: _FastList(FACT_LISTS[name], list(FACT_SCHEMAS[name]().load_fields)) for name in facts_order}
    return facts_order, lists


_FAST_FACTS_ORDER, _FAST_LISTS = _build_fast()
_TOP_ORDER = tuple(EvaluateRequestSchema().load_fields)


def fast_load(body: Any) -> dict[str, Any] | None:
    """What ``EvaluateRequestSchema().load(body)`` returns, or None where marshmallow must decide.

    Returns None for anything doubtful (an invalid body, or a shape it does
    not know); never accepts what marshmallow would refuse.
    """
    if type(body) is not dict or not {"facts"} <= body.keys() <= set(_TOP_ORDER):
        return None
    out: dict[str, Any] = {}
    if "as_of" in body:
        if not _is_date(body["as_of"]):
            return None
        out["as_of"] = body["as_of"]
    if "rulesets" in body:
        pins = body["rulesets"]
        if type(pins) is not list or not all(type(p) is str and PIN_RE.match(p) for p in pins):
            return None
        out["rulesets"] = list(pins)
    raw = body["facts"]
    if type(raw) is not dict or not raw.keys() <= _FAST_LISTS.keys():
        return None
    facts: dict[str, Any] = {}
    for name in _FAST_FACTS_ORDER:
        if name in raw:
            loaded = _FAST_LISTS[name].load(raw[name])
            if loaded is None:
                return None
            facts[name] = loaded
    out["facts"] = facts
    return out


def flatten_errors(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """marshmallow's nested error dict -> [{path: "facts.production.3.period", message}]."""
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                path = prefix or "$"
            out.extend(flatten_errors(value, path))
    elif isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            out.extend({"path": prefix or "$", "message": m} for m in messages)
        else:
            for m in messages:
                out.extend(flatten_errors(m, prefix))
    else:
        out.append({"path": prefix or "$", "message": str(messages)})
    return out


# ---------------------------------------------------------------- response schemas (documentation of the contract)
class BilingualSchema(Schema):
    zh = fields.String(required=True)
    en = fields.String(required=True)


class RulesetUsedSchema(Schema):
    id = fields.String(required=True)
    version = fields.String(required=True)
    status = fields.String(metadata={"description": "legal status of the instrument (draft, in_force, repealed)"})
    digest = fields.String(required=True, validate=validate.Regexp(r"^sha256:[0-9a-f]{64}$"))
    instrument = fields.String()
    lifecycle = fields.String(metadata={"description": "the version's registry status (draft, active, retired)"})


class CitationRefSchema(Schema):
    instrument = fields.String(required=True)
    eid = fields.String(required=True)


class CitationSchema(CitationRefSchema):
    label = fields.Nested(
        BilingualSchema,
        metadata={"description": "always there, except with ?citations=refs (instrument and eid only; see provisions)"},
    )
    status = fields.String(validate=validate.OneOf(["draft", "in_force", "repealed"]))
    text = fields.String(
        metadata={
            "description": "the provision's text as published (always there, except "
            "with shared citation texts: see text_ref)"
        }
    )
    text_en = fields.String(metadata={"description": "unofficial English translation"})
    text_ref = fields.String(
        metadata={
            "description": "shared citation texts (large responses, ?citations=shared): "
            "the key of this provision's text in citation_texts"
        }
    )


class CitationTextSchema(Schema):
    text = fields.String(required=True)
    text_en = fields.String()


class TruncatedSchema(Schema):
    violations_returned = fields.Integer(required=True)
    violations_found = fields.Integer(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(["max_violations", "max_response_bytes"]))


class ConsequenceSchema(Schema):
    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True)
    citation = fields.Nested(CitationRefSchema, required=True)
    description = fields.Nested(BilingualSchema)
    basis_t_reo = fields.Float()
    fine_min_yuan = fields.Float()
    fine_max_yuan = fields.Float()


class SubjectSchema(Schema):
    type = fields.String(required=True)
    id = fields.String(required=True)


class FactRefSchema(Schema):
    list = fields.String(required=True)
    index = fields.Integer(required=True, validate=validate.Range(min=0))


class ResponsibleSchema(Schema):
    type = fields.String(required=True)
    id = fields.String(required=True)
    role = fields.Nested(BilingualSchema, required=True)
    citation = fields.Nested(CitationRefSchema, required=True)


class InterpretationNoteSchema(Schema):
    question = fields.Nested(BilingualSchema, required=True)
    reading = fields.Nested(BilingualSchema, required=True)


class ViolationSchema(Schema):
    rule = fields.String(required=True)
    ruleset = fields.String(metadata={"description": "id@version of the ruleset that found it"})
    binding = fields.Boolean(
        metadata={"description": "false when the ruleset encodes a draft never in force (applied only when pinned)"}
    )
    title = fields.Nested(BilingualSchema, required=True)
    severity = fields.String(required=True, validate=validate.OneOf(["critical", "serious", "major", "minor"]))
    subject = fields.Nested(SubjectSchema, required=True)
    period = fields.String()
    message = fields.Nested(BilingualSchema, required=True)
    details = fields.Dict()
    explanation = fields.String(metadata={"description": "the conditions with the values they compared"})
    explanation_plain = fields.Nested(
        BilingualSchema,
        metadata={
            "description": "?explain=plain: the conditions in plain Chinese and English with the values compared"
        },
    )
    facts = fields.List(fields.Nested(FactRefSchema), required=True)
    citations = fields.List(fields.Nested(CitationSchema), required=True, validate=validate.Length(min=1))
    consequences = fields.List(fields.Nested(ConsequenceSchema))
    responsible = fields.List(fields.Nested(ResponsibleSchema))
    interpretations = fields.List(
        fields.Nested(InterpretationNoteSchema),
        metadata={
            "description": "the readings of open provisions the rule applies (its recorded interpretations); "
            "absent when it records none"
        },
    )


class SummarySchema(Schema):
    violations = fields.Integer(required=True)
    by_severity = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    binding = fields.Integer(metadata={"description": "violations under instruments in force"})
    non_binding = fields.Integer(metadata={"description": "violations under a draft, not in force (pinned only)"})


class WarningSchema(Schema):
    class Meta:
        unknown = INCLUDE

    code = fields.String(required=True)
    message = fields.Nested(BilingualSchema)


class UnknownSchema(Schema):
    """A rule that missing facts kept from deciding (``?explain=unknowns``, an extension of v1)."""

    rule = fields.String(required=True)
    ruleset = fields.String(required=True)
    title = fields.Nested(BilingualSchema, required=True)
    missing = fields.List(fields.String(), required=True)
    facts = fields.List(fields.String(), required=True)
    citations = fields.List(fields.Nested(CitationRefSchema), required=True)


class UnknownsSchema(Schema):
    items = fields.List(fields.Nested(UnknownSchema), required=True)
    complete = fields.Boolean(required=True)


class EvaluateResponseSchema(Schema):
    """POST /v1/evaluate 200 response (contract evaluate-v1, with its additive extensions)."""

    decision_id = fields.String(required=True)
    as_of = fields.String(required=True)
    rulesets = fields.List(fields.Nested(RulesetUsedSchema), required=True, validate=validate.Length(min=1))
    violations = fields.List(fields.Nested(ViolationSchema), required=True)
    summary = fields.Nested(SummarySchema, required=True)
    warnings = fields.List(fields.Nested(WarningSchema))
    unknowns = fields.Nested(UnknownsSchema)
    truncated = fields.Nested(TruncatedSchema, metadata={"description": "not every violation found is returned"})
    citation_texts = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(CitationTextSchema),
        metadata={"description": "shared citation texts (over 1,000 violations, or ?citations=shared), by text_ref"},
    )
    provisions = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.Nested(CitationSchema)),
        metadata={
            "description": "?citations=refs: each cited provision once, provisions[instrument][eid], the whole citation"
        },
    )


class FieldErrorSchema(Schema):
    path = fields.String(required=True)
    message = fields.String(required=True)


class IssueSchema(Schema):
    file = fields.String(required=True)
    line = fields.Integer(required=True)
    column = fields.Integer(required=True)
    rule = fields.String(allow_none=True)
    message = fields.String(required=True)
    hint = fields.String(allow_none=True)


class ErrorSchema(Schema):
    class Meta:
        unknown = INCLUDE

    error = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.List(fields.Nested(FieldErrorSchema))
    issues = fields.List(fields.Nested(IssueSchema))


# ---------------------------------------------------------------- documentation of the other /v1 responses
# Response schemas as the views write them (api/*.py): the OpenAPI document shows them, schemathesis checks
# the responses against them.  A schema whose Meta says INCLUDE lists the keys every response has and allows
# more (a nested structure documented elsewhere, e.g. a rule's view); the others are exact.
class _Open(Schema):
    class Meta:
        unknown = INCLUDE


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok"]))


class RulesetStatusSchema(Schema):
    ref = fields.String(required=True)
    status = fields.String(required=True)


class ReadinessSchema(_Open):
    """``/readyz``; also the decision log's counters (``decision_log_pending``, ``_lost``, ...)."""

    status = fields.String(required=True, validate=validate.OneOf(["ready", "not_ready"]))
    rulesets = fields.List(fields.Nested(RulesetStatusSchema), required=True)
    database = fields.String()
    generation = fields.Integer()
    decision_log_pending = fields.Integer(metadata={"description": "decisions waiting for the database"})
    decision_log_lost = fields.Integer(metadata={"description": "decisions lost to a database outage"})
    decision_log_quarantined = fields.Integer(metadata={"description": "records kept aside, not writable"})


class PeriodSchema(Schema):
    from_ = fields.String(data_key="from", required=True, allow_none=True)
    to = fields.String(required=True, allow_none=True)


class PublishedRecordSchema(Schema):
    """What the registry keeps of anything published (a ruleset version, an instrument's revision)."""

    digest = fields.String(required=True)
    author = fields.String(required=True, allow_none=True)
    created_at = fields.String(required=True, allow_none=True)
    comment = fields.String(required=True, allow_none=True)


class VersionSchema(PublishedRecordSchema):
    id = fields.String(required=True)
    version = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["draft", "active", "retired"]))
    instrument = fields.String(required=True, allow_none=True)
    legal_status = fields.String(required=True, allow_none=True)
    effective = fields.Nested(PeriodSchema, required=True)


class VersionSourceSchema(VersionSchema):
    source = fields.String(required=True, metadata={"description": "the YAML as published"})


class VersionListSchema(Schema):
    versions = fields.List(fields.Nested(VersionSchema), required=True)


class PublishedVersionSchema(Schema):
    id = fields.String(required=True)
    version = fields.String(required=True)
    digest = fields.String(required=True)
    status = fields.String(required=True)
    created = fields.Boolean(required=True, metadata={"description": "false: the same text was already stored"})
    warnings = fields.List(fields.Nested(IssueSchema), required=True)


class ActivatedSchema(Schema):
    activated = fields.String(required=True)
    retired = fields.List(fields.String(), required=True)
    overridden = fields.List(
        fields.String(), required=True, metadata={"description": "rules activated without sign-off (override_reason)"}
    )


class AuditEntrySchema(Schema):
    seq = fields.Integer(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True, allow_none=True)
    action = fields.String(required=True)
    ruleset = fields.String(required=True)
    digest_before = fields.String(required=True, allow_none=True)
    digest_after = fields.String(required=True, allow_none=True)
    detail = fields.Raw(required=True, allow_none=True)


class AuditSchema(Schema):
    entries = fields.List(fields.Nested(AuditEntrySchema), required=True)


class ImpactAcceptedSchema(Schema):
    job_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["queued"]))
    candidate = fields.String(required=True)
    replaces = fields.List(fields.String(), required=True)
    total = fields.Integer(required=True)
    location = fields.String(required=True)


class ImpactJobSchema(Schema):
    job_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["queued", "running", "done", "failed"]))
    candidate = fields.String(required=True)
    actor = fields.String(required=True, allow_none=True)
    total = fields.Integer(required=True)
    done = fields.Integer(required=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    stale = fields.Boolean(metadata={"description": "queued or running, and not updated for two minutes"})
    result = fields.Dict(metadata={"description": "when done: the report of policy.impact"})
    error = fields.String()


class RulesetDigestSchema(_Open):
    id = fields.String(required=True)
    version = fields.String(required=True)
    digest = fields.String(required=True)


class DecisionSchema(Schema):
    decision_id = fields.String(required=True)
    at = fields.String(required=True)
    caller = fields.String(required=True, allow_none=True)
    as_of = fields.String(required=True)
    rulesets = fields.List(fields.Nested(RulesetDigestSchema), required=True)
    input = fields.Dict(
        required=True,
        allow_none=True,
        metadata={"description": "the request body, or null where only its digest was logged"},
    )
    input_digest = fields.String(required=True)
    result = fields.Dict(required=True, metadata={"description": "the response given (EvaluateResponse)"})
    violations = fields.Integer(required=True)


class ReplayedSchema(Schema):
    violations = fields.List(fields.Dict(), required=True)
    summary = fields.Nested(SummarySchema, required=True)


class ReplaySchema(Schema):
    decision_id = fields.String(required=True)
    identical = fields.Boolean(required=True)
    rulesets = fields.List(fields.String(), required=True)
    added = fields.List(fields.String(), required=True)
    removed = fields.List(fields.String(), required=True)
    replay = fields.Nested(ReplayedSchema, required=True)
    facts_digest = fields.String(required=True)
    facts_count = fields.Integer(required=True)


class RevisionSchema(PublishedRecordSchema):
    id = fields.String(required=True)
    revision = fields.Integer(required=True)
    status = fields.String(required=True)
    text_available = fields.Boolean(required=True)


class RevisionSourceSchema(RevisionSchema):
    source = fields.String(required=True, metadata={"description": "the instrument's YAML as published"})


class PublishedRevisionSchema(RevisionSchema):
    created = fields.Boolean(required=True, metadata={"description": "false: the newest revision has this text"})


class RevisionListSchema(Schema):
    id = fields.String(required=True)
    revisions = fields.List(fields.Nested(RevisionSchema), required=True)


class InstrumentSchema(Schema):
    id = fields.String(required=True)
    title = fields.Dict(required=True)
    short_title = fields.Dict(required=True)
    issuer = fields.Dict(required=True)
    document_number = fields.String(required=True, allow_none=True)
    date = fields.String(required=True, allow_none=True)
    published = fields.String(required=True, allow_none=True)
    effective_from = fields.String(required=True, allow_none=True)
    status = fields.String(required=True)
    in_force = fields.Nested(
        PeriodSchema,
        required=True,
        allow_none=True,
        metadata={"description": "the period it is law; null for a draft never in force"},
    )
    complete = fields.Boolean(required=True)
    notes = fields.Dict(required=True, allow_none=True)
    text_available = fields.Boolean(required=True)
    revision = fields.Integer(required=True, allow_none=True)
    digest = fields.String(required=True, allow_none=True)


class InstrumentListSchema(Schema):
    instruments = fields.List(fields.Nested(InstrumentSchema), required=True)


class ProvisionOutlineSchema(Schema):
    eid = fields.String(required=True)
    kind = fields.String(required=True)
    label = fields.Dict(required=True)
    heading = fields.Dict(required=True, allow_none=True)
    parent = fields.String(required=True, allow_none=True)
    children = fields.List(fields.String(), required=True)


class InstrumentDetailSchema(InstrumentSchema):
    provisions = fields.List(fields.Nested(ProvisionOutlineSchema), required=True)


class ProvisionSchema(_Open):
    """A provision's text, the rules implementing it, or why it is out of scope."""

    instrument = fields.String(required=True)
    eid = fields.String(required=True)
    kind = fields.String(required=True)
    label = fields.Dict(required=True)
    text = fields.String(required=True, allow_none=True)
    coverage = fields.String(required=True)
    implemented_by = fields.List(fields.Dict(), required=True)


class InterpretationsSchema(Schema):
    instrument = fields.String(required=True)
    interpretations = fields.List(fields.Dict(), required=True)


class ReviewSchema(_Open):
    """A rule's sign-off state (``unknown`` with the reason when the registry database is away)."""

    status = fields.String(required=True)


class RuleViewSchema(_Open):
    """A rule as a legal reviewer reads it (api/rule_view.py)."""

    ruleset = fields.String(required=True)
    ruleset_status = fields.String(required=True)
    digest = fields.String(required=True)
    id = fields.String(required=True)
    title = fields.Nested(BilingualSchema, required=True)
    severity = fields.String(required=True)
    yaml = fields.String(required=True)
    when = fields.List(fields.Dict(), required=True)
    citations = fields.List(fields.Dict(), required=True)
    batch_citations = fields.List(
        fields.Dict(),
        metadata={"description": "{batch_of} citations: per batch, what its findings cite (docs/rules.md §2)"},
    )
    parameters = fields.List(fields.Dict(), required=True)
    consequences = fields.List(fields.Dict(), required=True)
    scenarios = fields.Dict(required=True)
    review = fields.Nested(ReviewSchema, required=True)


class ApprovalRequestSchema(Schema):
    comment = fields.String(allow_none=True, validate=validate.Length(max=2000))


class ApprovalRecordSchema(Schema):
    seq = fields.Integer(required=True)
    ruleset = fields.String(required=True)
    rule = fields.String(required=True)
    rule_digest = fields.String(required=True)
    reviewer = fields.String(required=True)
    at = fields.String(required=True)
    comment = fields.String(required=True, allow_none=True)


class ApprovalSchema(Schema):
    approval = fields.Nested(ApprovalRecordSchema, required=True)
    review = fields.Nested(ReviewSchema, required=True)
