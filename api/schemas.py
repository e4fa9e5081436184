"""marshmallow schemas of the evaluate request, built from the fact catalogue.

The catalogue (policy/facts.py) is the one description of the facts; these
schemas are generated from it so that the API, the validator and the engine
can never disagree about a field.  Types are strict: ``"5000"`` is not a
number, ``1`` is not a boolean, NaN and Infinity are refused, unknown fields
are errors.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any
from collections.abc import Callable

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate

from policy.facts import FACT_LISTS, FactList, WireField
from policy.text import SURROGATE_MESSAGE, has_lone_surrogate

DATE_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
PERIOD_RE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2]))?$")
PIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*@[A-Za-z0-9._-]+$")
MAX_NUMBER = 1e12  # t REO: far above any real figure, far below float trouble
YEARS = (1, 9999)  # an integer ``year``: the calendar's range (dates and due dates are computed from it)


class StrictNumber(fields.Field):
    """A JSON number (not a string, not a boolean), finite, within bounds."""

    def __init__(self, minimum: float | None = None, integer: bool = False, maximum: float | None = None, **kw: Any):
        super().__init__(**kw)
        self.minimum, self.integer, self.maximum = minimum, integer, maximum

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("must be an integer" if self.integer else "must be a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError("must be a finite number")
        if self.integer and not isinstance(value, int):
            raise ValidationError("must be an integer")
        if abs(value) > MAX_NUMBER:
            raise ValidationError(f"must be at most {MAX_NUMBER:g} in magnitude")
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(f"must be >= {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(f"must be <= {self.maximum:g}")
        return value


class StrictInteger(StrictNumber):
    """A JSON integer (documented as such in the OpenAPI)."""

    def __init__(self, **kw: Any):
        super().__init__(integer=True, **kw)


class StrictBoolean(fields.Field):
    """true or false, nothing else."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


class StrictString(fields.String):
    """A JSON string (numbers are not silently turned into text), valid Unicode (no lone surrogate: it
    could be neither stored nor asserted into the engine)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("must be a string")
        if has_lone_surrogate(value):
            raise ValidationError(SURROGATE_MESSAGE)
        return super()._deserialize(value, attr, data, **kwargs)


class DateText(StrictString):
    """An ISO date YYYY-MM-DD that exists on the calendar; kept as text."""

    def __init__(self, **kw: Any):
        kw.setdefault("metadata", {"pattern": DATE_RE.pattern, "format": "date"})
        super().__init__(**kw)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if not DATE_RE.match(value):
            raise ValidationError("must be a date YYYY-MM-DD")
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise ValidationError("is not a calendar date") from None
        return value


def _calendar_year(value: str) -> None:
    """Year 0000 matches YYYY but is on no calendar (dates, due dates and periods start at 0001)."""
    if value.startswith("0000"):
        raise ValidationError("year 0000 does not exist")


def _field(wf: WireField) -> fields.Field:
    kw: dict[str, Any] = {"required": wf.required, "allow_none": wf.nullable}
    if wf.type == "string":
        length = validate.Length(min=1, max=wf.max_length) if wf.max_length else validate.Length(max=1000)
        return StrictString(validate=length, **kw)
    if wf.type in ("number", "integer"):
        bounds = {"maximum": MAX_NUMBER, **({"minimum": wf.minimum} if wf.minimum is not None else {"minimum": -MAX_NUMBER})}
        if wf.type == "integer" and wf.name == "year":
            return StrictInteger(minimum=YEARS[0], maximum=YEARS[1],
                                 metadata={"minimum": YEARS[0], "maximum": YEARS[1]}, **kw)
        if wf.type == "integer":
            return StrictInteger(minimum=wf.minimum, metadata=bounds, **kw)
        return StrictNumber(minimum=wf.minimum, metadata=bounds, **kw)
    if wf.type == "boolean":
        return StrictBoolean(**kw)
    if wf.type == "date":
        return DateText(**kw)
    if wf.type == "month":
        return StrictString(validate=[validate.Regexp(MONTH_RE, error="must be a month YYYY-MM"), _calendar_year], **kw)
    if wf.type == "period":
        return StrictString(validate=[validate.Regexp(PERIOD_RE, error="must be YYYY-MM or YYYY"), _calendar_year], **kw)
    if wf.type == "enum":
        return StrictString(validate=validate.OneOf(wf.enum), **kw)
    if wf.type == "enum_list":
        return fields.List(StrictString(validate=validate.OneOf(wf.enum)), **kw)
    raise ValueError(wf.type)  # pragma: no cover


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


def _is_date(value: Any) -> bool:
    if type(value) is not str or not DATE_RE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_number(wf: WireField) -> Check:
    integer, minimum, maximum = wf.type == "integer", wf.minimum, MAX_NUMBER
    if integer and wf.name == "year":
        minimum, maximum = YEARS

    def check(value: Any) -> bool:
        kind = type(value)
        if kind is float:
            if integer or not math.isfinite(value):
                return False
        elif kind is not int:
            return False  # bool included: type(True) is bool
        return abs(value) <= MAX_NUMBER and value <= maximum and (minimum is None or value >= minimum)
    return check


def _scalar_check(wf: WireField) -> Check:
    """A predicate true exactly where the marshmallow field of ``wf`` (see :func:`_field`) accepts a non-null value."""
    if wf.type == "string":
        low, high = (1, wf.max_length) if wf.max_length else (0, 1000)
        return lambda v: type(v) is str and low <= len(v) <= high and not has_lone_surrogate(v)
    if wf.type in ("number", "integer"):
        return _is_number(wf)
    if wf.type == "boolean":
        return lambda v: v is True or v is False
    if wf.type == "date":
        return _is_date
    if wf.type in ("month", "period"):
        pattern = MONTH_RE if wf.type == "month" else PERIOD_RE
        return lambda v: type(v) is str and pattern.match(v) is not None and not v.startswith("0000")
    if wf.type == "enum":
        choices = frozenset(wf.enum)
        return lambda v: type(v) is str and v in choices
    if wf.type == "enum_list":
        choices = frozenset(wf.enum)
        return lambda v: type(v) is list and all(type(x) is str and x in choices for x in v)
    raise ValueError(wf.type)  # pragma: no cover


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
    label = fields.Nested(BilingualSchema, required=True)
    status = fields.String(validate=validate.OneOf(["draft", "in_force", "repealed"]))
    text = fields.String(metadata={"description": "the provision's text as published (always there, except "
                                                  "with shared citation texts: see text_ref)"})
    text_en = fields.String(metadata={"description": "unofficial English translation"})
    text_ref = fields.String(metadata={"description": "shared citation texts (large responses, ?citations=shared): "
                                                      "the key of this provision's text in citation_texts"})


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
    binding = fields.Boolean(metadata={
        "description": "false when the ruleset encodes a draft never in force (applied only when pinned)"})
    title = fields.Nested(BilingualSchema, required=True)
    severity = fields.String(required=True, validate=validate.OneOf(["critical", "serious", "major", "minor"]))
    subject = fields.Nested(SubjectSchema, required=True)
    period = fields.String()
    message = fields.Nested(BilingualSchema, required=True)
    details = fields.Dict()
    explanation = fields.String(metadata={"description": "the conditions with the values they compared"})
    explanation_plain = fields.Nested(BilingualSchema, metadata={
        "description": "?explain=plain: the conditions in plain Chinese and English with the values compared"})
    facts = fields.List(fields.Nested(FactRefSchema), required=True)
    citations = fields.List(fields.Nested(CitationSchema), required=True, validate=validate.Length(min=1))
    consequences = fields.List(fields.Nested(ConsequenceSchema))
    responsible = fields.List(fields.Nested(ResponsibleSchema))
    interpretations = fields.List(fields.Nested(InterpretationNoteSchema), metadata={
        "description": "the readings of open provisions the rule applies (its recorded interpretations); "
                       "absent when it records none"})


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
    citation_texts = fields.Dict(keys=fields.String(), values=fields.Nested(CitationTextSchema), metadata={
        "description": "shared citation texts (over 1,000 violations, or ?citations=shared), by text_ref"})


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
