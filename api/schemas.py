"""marshmallow schemas of the evaluate request, built from the fact catalogue.

The catalogue (policy/facts.py) is the one description of the facts; these
schemas are generated from it so that the API, the validator and the engine
can never disagree about a field.  Types are strict: ``"5000"`` is not a
number, ``1`` is not a boolean, NaN and Infinity are refused, unknown fields
are errors.
"""

from __future__ import annotations

import re
import types
import typing
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


# ---------------------------------------------------------------- response schemas: how they are written
# Response schemas as the views write them (api/*.py): the OpenAPI document shows them, schemathesis checks
# the responses against them.  A schema with base ``_Open`` lists the keys every response has and allows
# more (a nested structure documented elsewhere, e.g. a rule's view); the others are exact.
#
# Most of their fields are required and say only their type, so each schema is written as a table of its
# fields (see :func:`_doc_field`), in the order the document lists them.


class _Open(Schema):
    class Meta:
        unknown = INCLUDE


_DOC_SCALARS: dict[type, type[fields.Field]] = {
    str: fields.String,
    int: fields.Integer,
    bool: fields.Boolean,
    dict: fields.Dict,
}


def _doc_item(spec: Any) -> fields.Field:
    """The field of one value of ``spec`` (a scalar type or a schema), with nothing more said about it."""
    if isinstance(spec, type) and issubclass(spec, Schema):
        return fields.Nested(spec)
    return _DOC_SCALARS[spec]()


def _doc_field(spec: Any) -> fields.Field:
    """The field a documentation schema's table gives: a marshmallow field is taken as it is; otherwise a
    required field of ``str``, ``int``, ``bool``, ``dict`` or a schema (nested), ``[spec]`` for a list of
    them, ``spec | None`` for one that may be null."""
    if isinstance(spec, fields.Field):
        return spec
    if isinstance(spec, list):
        (item,) = spec
        return fields.List(_doc_item(item), required=True)
    if isinstance(spec, types.UnionType):
        (inner,) = (a for a in typing.get_args(spec) if a is not type(None))
        return _DOC_SCALARS[inner](required=True, allow_none=True)
    if isinstance(spec, type) and issubclass(spec, Schema):
        return fields.Nested(spec, required=True)
    return _DOC_SCALARS[spec](required=True)


def _doc_schema(name: str, doc: str | None = None, base: type[Schema] = Schema, **table: Any) -> type[Schema]:
    """A response schema ``name`` (its name in the OpenAPI document) with the fields of ``table``, in order,
    after those of ``base``."""
    attrs: dict[str, Any] = {key: _doc_field(spec) for key, spec in table.items()}
    attrs["__doc__"], attrs["__module__"] = doc, __name__
    return type(name, (base,), attrs)


# ---------------------------------------------------------------- response schemas (documentation of the contract)
# The evaluate response and the error body, as tables of their fields (see _doc_schema above).
BilingualSchema = _doc_schema("BilingualSchema", zh=str, en=str)
RulesetUsedSchema = _doc_schema(
    "RulesetUsedSchema",
    id=str,
    version=str,
    status=fields.String(metadata={"description": "legal status of the instrument (draft, in_force, repealed)"}),
    digest=fields.String(required=True, validate=validate.Regexp(r"^sha256:[0-9a-f]{64}$")),
    instrument=fields.String(),
    lifecycle=fields.String(metadata={"description": "the version's registry status (draft, active, retired)"}),
)
CitationRefSchema = _doc_schema("CitationRefSchema", instrument=str, eid=str)
CitationSchema = _doc_schema(
    "CitationSchema",
    base=CitationRefSchema,
    label=fields.Nested(
        BilingualSchema,
        metadata={"description": "always there, except with ?citations=refs (instrument and eid only; see provisions)"},
    ),
    status=fields.String(validate=validate.OneOf(["draft", "in_force", "repealed"])),
    text=fields.String(
        metadata={
            "description": "the provision's text as published (always there, except "
            "with shared citation texts: see text_ref)"
        }
    ),
    text_en=fields.String(metadata={"description": "unofficial English translation"}),
    text_ref=fields.String(
        metadata={
            "description": "shared citation texts (large responses, ?citations=shared): "
            "the key of this provision's text in citation_texts"
        }
    ),
)
CitationTextSchema = _doc_schema("CitationTextSchema", text=str, text_en=fields.String())
TruncatedSchema = _doc_schema(
    "TruncatedSchema",
    violations_returned=int,
    violations_found=int,
    reason=fields.String(required=True, validate=validate.OneOf(["max_violations", "max_response_bytes"])),
)
ConsequenceSchema = _doc_schema(
    "ConsequenceSchema",
    base=_Open,
    type=str,
    citation=CitationRefSchema,
    description=fields.Nested(BilingualSchema),
    basis_t_reo=fields.Float(),
    fine_min_yuan=fields.Float(),
    fine_max_yuan=fields.Float(),
)
SubjectSchema = _doc_schema("SubjectSchema", type=str, id=str)
FactRefSchema = _doc_schema(
    "FactRefSchema", list=str, index=fields.Integer(required=True, validate=validate.Range(min=0))
)
ResponsibleSchema = _doc_schema("ResponsibleSchema", type=str, id=str, role=BilingualSchema, citation=CitationRefSchema)
InterpretationNoteSchema = _doc_schema("InterpretationNoteSchema", question=BilingualSchema, reading=BilingualSchema)
ViolationSchema = _doc_schema(
    "ViolationSchema",
    rule=str,
    ruleset=fields.String(metadata={"description": "id@version of the ruleset that found it"}),
    binding=fields.Boolean(
        metadata={"description": "false when the ruleset encodes a draft never in force (applied only when pinned)"}
    ),
    title=BilingualSchema,
    severity=fields.String(required=True, validate=validate.OneOf(["critical", "serious", "major", "minor"])),
    subject=SubjectSchema,
    period=fields.String(),
    message=BilingualSchema,
    details=fields.Dict(),
    explanation=fields.String(metadata={"description": "the conditions with the values they compared"}),
    explanation_plain=fields.Nested(
        BilingualSchema,
        metadata={
            "description": "?explain=plain: the conditions in plain Chinese and English with the values compared"
        },
    ),
    facts=[FactRefSchema],
    citations=fields.List(fields.Nested(CitationSchema), required=True, validate=validate.Length(min=1)),
    consequences=fields.List(fields.Nested(ConsequenceSchema)),
    responsible=fields.List(fields.Nested(ResponsibleSchema)),
    interpretations=fields.List(
        fields.Nested(InterpretationNoteSchema),
        metadata={
            "description": "the readings of open provisions the rule applies (its recorded interpretations); "
            "absent when it records none"
        },
    ),
)
SummarySchema = _doc_schema(
    "SummarySchema",
    violations=int,
    by_severity=fields.Dict(keys=fields.String(), values=fields.Integer(), required=True),
    binding=fields.Integer(metadata={"description": "violations under instruments in force"}),
    non_binding=fields.Integer(metadata={"description": "violations under a draft, not in force (pinned only)"}),
)
WarningSchema = _doc_schema("WarningSchema", base=_Open, code=str, message=fields.Nested(BilingualSchema))
UnknownSchema = _doc_schema(
    "UnknownSchema",
    "A rule that missing facts kept from deciding (``?explain=unknowns``, an extension of v1).",
    rule=str,
    ruleset=str,
    title=BilingualSchema,
    missing=[str],
    facts=[str],
    citations=[CitationRefSchema],
)
UnknownsSchema = _doc_schema("UnknownsSchema", items=[UnknownSchema], complete=bool)
EvaluateResponseSchema = _doc_schema(
    "EvaluateResponseSchema",
    "POST /v1/evaluate 200 response (contract evaluate-v1, with its additive extensions).",
    decision_id=str,
    as_of=str,
    rulesets=fields.List(fields.Nested(RulesetUsedSchema), required=True, validate=validate.Length(min=1)),
    violations=[ViolationSchema],
    summary=SummarySchema,
    warnings=fields.List(fields.Nested(WarningSchema)),
    unknowns=fields.Nested(UnknownsSchema),
    truncated=fields.Nested(TruncatedSchema, metadata={"description": "not every violation found is returned"}),
    citation_texts=fields.Dict(
        keys=fields.String(),
        values=fields.Nested(CitationTextSchema),
        metadata={"description": "shared citation texts (over 1,000 violations, or ?citations=shared), by text_ref"},
    ),
    provisions=fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.Nested(CitationSchema)),
        metadata={
            "description": "?citations=refs: each cited provision once, provisions[instrument][eid], the whole citation"
        },
    ),
)
FieldErrorSchema = _doc_schema("FieldErrorSchema", path=str, message=str)
IssueSchema = _doc_schema(
    "IssueSchema",
    file=str,
    line=int,
    column=int,
    rule=fields.String(allow_none=True),
    message=str,
    hint=fields.String(allow_none=True),
)
ErrorSchema = _doc_schema(
    "ErrorSchema",
    base=_Open,
    error=str,
    message=str,
    errors=fields.List(fields.Nested(FieldErrorSchema)),
    issues=fields.List(fields.Nested(IssueSchema)),
)


# ---------------------------------------------------------------- documentation of the other /v1 responses
HealthSchema = _doc_schema("HealthSchema", status=fields.String(required=True, validate=validate.OneOf(["ok"])))
RulesetStatusSchema = _doc_schema("RulesetStatusSchema", ref=str, status=str)
ReadinessSchema = _doc_schema(
    "ReadinessSchema",
    "``/readyz``; also the decision log's counters (``decision_log_pending``, ``_lost``, ...).",
    _Open,
    status=fields.String(required=True, validate=validate.OneOf(["ready", "not_ready"])),
    rulesets=[RulesetStatusSchema],
    database=fields.String(),
    generation=fields.Integer(),
    decision_log_pending=fields.Integer(metadata={"description": "decisions waiting for the database"}),
    decision_log_lost=fields.Integer(metadata={"description": "decisions lost to a database outage"}),
    decision_log_quarantined=fields.Integer(metadata={"description": "records kept aside, not writable"}),
)
PeriodSchema = _doc_schema(
    "PeriodSchema", from_=fields.String(data_key="from", required=True, allow_none=True), to=str | None
)
PublishedRecordSchema = _doc_schema(
    "PublishedRecordSchema",
    "What the registry keeps of anything published (a ruleset version, an instrument's revision).",
    digest=str,
    author=str | None,
    created_at=str | None,
    comment=str | None,
)
VersionSchema = _doc_schema(
    "VersionSchema",
    base=PublishedRecordSchema,
    id=str,
    version=str,
    status=fields.String(required=True, validate=validate.OneOf(["draft", "active", "retired"])),
    instrument=str | None,
    legal_status=str | None,
    effective=PeriodSchema,
)
VersionSourceSchema = _doc_schema(
    "VersionSourceSchema",
    base=VersionSchema,
    source=fields.String(required=True, metadata={"description": "the YAML as published"}),
)
VersionListSchema = _doc_schema("VersionListSchema", versions=[VersionSchema])
PublishedVersionSchema = _doc_schema(
    "PublishedVersionSchema",
    id=str,
    version=str,
    digest=str,
    status=str,
    created=fields.Boolean(required=True, metadata={"description": "false: the same text was already stored"}),
    warnings=[IssueSchema],
)
ActivatedSchema = _doc_schema(
    "ActivatedSchema",
    activated=str,
    retired=[str],
    overridden=fields.List(
        fields.String(), required=True, metadata={"description": "rules activated without sign-off (override_reason)"}
    ),
)
AuditEntrySchema = _doc_schema(
    "AuditEntrySchema",
    seq=int,
    at=str,
    actor=str | None,
    action=str,
    ruleset=str,
    digest_before=str | None,
    digest_after=str | None,
    detail=fields.Raw(required=True, allow_none=True),
)
AuditSchema = _doc_schema("AuditSchema", entries=[AuditEntrySchema])
ImpactAcceptedSchema = _doc_schema(
    "ImpactAcceptedSchema",
    job_id=str,
    status=fields.String(required=True, validate=validate.OneOf(["queued"])),
    candidate=str,
    replaces=[str],
    total=int,
    location=str,
)
ImpactJobSchema = _doc_schema(
    "ImpactJobSchema",
    job_id=str,
    status=fields.String(required=True, validate=validate.OneOf(["queued", "running", "done", "failed"])),
    candidate=str,
    actor=str | None,
    total=int,
    done=int,
    created_at=str,
    updated_at=str,
    stale=fields.Boolean(metadata={"description": "queued or running, and not updated for two minutes"}),
    result=fields.Dict(metadata={"description": "when done: the report of policy.impact"}),
    error=fields.String(),
)
RulesetDigestSchema = _doc_schema("RulesetDigestSchema", base=_Open, id=str, version=str, digest=str)
DecisionSchema = _doc_schema(
    "DecisionSchema",
    decision_id=str,
    at=str,
    caller=str | None,
    as_of=str,
    rulesets=[RulesetDigestSchema],
    input=fields.Dict(
        required=True,
        allow_none=True,
        metadata={"description": "the request body, or null where only its digest was logged"},
    ),
    input_digest=str,
    result=fields.Dict(required=True, metadata={"description": "the response given (EvaluateResponse)"}),
    violations=int,
)
ReplayedSchema = _doc_schema("ReplayedSchema", violations=[dict], summary=SummarySchema)
ReplaySchema = _doc_schema(
    "ReplaySchema",
    decision_id=str,
    identical=bool,
    rulesets=[str],
    added=[str],
    removed=[str],
    replay=ReplayedSchema,
    facts_digest=str,
    facts_count=int,
)
RevisionSchema = _doc_schema(
    "RevisionSchema", base=PublishedRecordSchema, id=str, revision=int, status=str, text_available=bool
)
RevisionSourceSchema = _doc_schema(
    "RevisionSourceSchema",
    base=RevisionSchema,
    source=fields.String(required=True, metadata={"description": "the instrument's YAML as published"}),
)
PublishedRevisionSchema = _doc_schema(
    "PublishedRevisionSchema",
    base=RevisionSchema,
    created=fields.Boolean(required=True, metadata={"description": "false: the newest revision has this text"}),
)
RevisionListSchema = _doc_schema("RevisionListSchema", id=str, revisions=[RevisionSchema])
InstrumentSchema = _doc_schema(
    "InstrumentSchema",
    id=str,
    title=dict,
    short_title=dict,
    issuer=dict,
    document_number=str | None,
    date=str | None,
    published=str | None,
    effective_from=str | None,
    status=str,
    in_force=fields.Nested(
        PeriodSchema,
        required=True,
        allow_none=True,
        metadata={"description": "the period it is law; null for a draft never in force"},
    ),
    complete=bool,
    notes=dict | None,
    text_available=bool,
    revision=int | None,
    digest=str | None,
)
InstrumentListSchema = _doc_schema("InstrumentListSchema", instruments=[InstrumentSchema])
ProvisionOutlineSchema = _doc_schema(
    "ProvisionOutlineSchema", eid=str, kind=str, label=dict, heading=dict | None, parent=str | None, children=[str]
)
InstrumentDetailSchema = _doc_schema(
    "InstrumentDetailSchema", base=InstrumentSchema, provisions=[ProvisionOutlineSchema]
)
ProvisionSchema = _doc_schema(
    "ProvisionSchema",
    "A provision's text, the rules implementing it, or why it is out of scope.",
    _Open,
    instrument=str,
    eid=str,
    kind=str,
    label=dict,
    text=str | None,
    coverage=str,
    implemented_by=[dict],
)
InterpretationsSchema = _doc_schema("InterpretationsSchema", instrument=str, interpretations=[dict])
ReviewSchema = _doc_schema(
    "ReviewSchema",
    "A rule's sign-off state (``unknown`` with the reason when the registry database is away).",
    _Open,
    status=str,
)
RuleViewSchema = _doc_schema(
    "RuleViewSchema",
    "A rule as a legal reviewer reads it (api/rule_view.py).",
    _Open,
    ruleset=str,
    ruleset_status=str,
    digest=str,
    id=str,
    title=BilingualSchema,
    severity=str,
    yaml=str,
    when=[dict],
    citations=[dict],
    batch_citations=fields.List(
        fields.Dict(),
        metadata={"description": "{batch_of} citations: per batch, what its findings cite (docs/rules.md §2)"},
    ),
    parameters=[dict],
    consequences=[dict],
    scenarios=dict,
    review=ReviewSchema,
)


class ApprovalRequestSchema(Schema):
    comment = fields.String(allow_none=True, validate=validate.Length(max=2000))


ApprovalRecordSchema = _doc_schema(
    "ApprovalRecordSchema",
    seq=int,
    ruleset=str,
    rule=str,
    rule_digest=str,
    reviewer=str,
    at=str,
    comment=str | None,
)
ApprovalSchema = _doc_schema("ApprovalSchema", approval=ApprovalRecordSchema, review=ReviewSchema)
