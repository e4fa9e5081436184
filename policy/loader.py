"""Reading a ruleset file and checking everything a regulator can get wrong.

Every problem found is collected (not just the first) as an :class:`Issue`
with file, line, column, the rule id it concerns and a hint, so that one run
of the validator gives the whole list to fix.  A ruleset with any issue is
rejected as a whole: :func:`load_ruleset` either returns a fully valid
:class:`Ruleset` or raises :class:`RulesetInvalid`.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from policy import expr as E
from policy.expr.visitor import Visitor, handles
from policy import liveness
from policy.batches import BATCH_FIELDS, BATCH_LISTS, parse_batches, rule_citations
from policy.facts import FACT_LISTS, RESERVED_FIELDS
from policy.functions import parse_date
from policy.instruments import Instrument
from policy.model import (
    RULESET_STATUSES,
    SEVERITIES,
    Aggregate,
    Batch,
    Citation,
    Computed,
    Consequence,
    Interpretation,
    Parameter,
    Pattern,
    Responsibility,
    Rule,
    Ruleset,
)
from policy.yamlsource import LocatedDict, LocatedList, Location, YamlSourceError, load_yaml

ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
VERSION_RE = re.compile(r"^[A-Za-z0-9._-]+$")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
RULE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
LANGS = ("zh", "en")

# Engine limits (see engine/compiler.py): rejected here with a clear message
# rather than crashing the engine at evaluation time.
SUBJECT_TYPES = ("enterprise", "group", "national")
MAX_RULES = 400
MAX_PATTERNS_PER_RULE = 8
MAX_FIELDS_PER_FACT = 200


@dataclass(frozen=True)
class Issue:
    """One validation problem, located."""

    file: str
    line: int
    column: int
    message: str
    rule: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        rule = f" [rule {self.rule}]" if self.rule else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}{rule}: {self.message}{hint}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "message": self.message,
            "hint": self.hint,
        }


class RulesetInvalid(ValueError):
    """The ruleset does not validate; ``issues`` lists every problem."""

    def __init__(self, issues: list[Issue]):
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


class _Checker:
    def __init__(self, path: str, instruments: Mapping[str, Instrument]):
        self.path = path
        self.instruments = instruments
        self.issues: list[Issue] = []
        self.rule_id: str | None = None
        self.computed_at: dict[tuple[str, str], Location] = {}  # (list, field) -> where it is declared
        self.batches: Mapping[str, Batch] = {}  # the ruleset's, once read: a rule may cite a fact's batch

    # -- reporting
    def add(self, loc: Location | None, message: str, hint: str | None = None) -> None:
        loc = loc or Location(1, 1)
        self.issues.append(Issue(self.path, loc.line, loc.column, message, self.rule_id, hint))

    def where(self, obj: Any, key: str | int | None = None) -> Location:
        """Where a mapping's key (a text) or a list's item (an index) is, else the value itself; line 1 if unknown."""
        if isinstance(obj, LocatedDict):
            return obj.where(key if isinstance(key, str) else None)
        if isinstance(obj, LocatedList):
            return obj.where(key if isinstance(key, int) else None)
        return Location(1, 1)

    # -- generic shape checks
    def mapping(self, obj: Any, what: str, loc: Location) -> LocatedDict | None:
        if not isinstance(obj, dict):
            self.add(loc, f"{what} must be a mapping (key: value lines)")
            return None
        return obj  # type: ignore[return-value]

    def keys(self, obj: LocatedDict, what: str, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
        for k in required:
            if k not in obj:
                self.add(obj.where(), f"{what} lacks `{k}`")
        known = set(required) | set(optional)
        for k in obj:
            if k not in known:
                self.add(obj.where(k), f"unknown field `{k}` in {what}", f"known fields: {', '.join(sorted(known))}")

    def text(self, obj: LocatedDict, key: str, what: str, required: bool = False) -> dict[str, str] | None:
        """A bilingual text: {zh: ..., en: ...}; None when absent, or null where not ``required``.

        A required text's absence is reported by :meth:`keys`; written as null it is reported here.
        """
        val = obj.get(key)
        if val is None and not (required and key in obj):
            return None
        if not isinstance(val, dict) or any(not _written(val.get(lang)) for lang in LANGS) or set(val) - set(LANGS):
            self.add(
                obj.where(key),
                f"{what} `{key}` must have exactly `zh` and `en` texts",
                "write it as {zh: 中文, en: English}",
            )
            return None
        return {lang: val[lang] for lang in LANGS}

    def citation(self, obj: Any, loc: Location) -> Citation | None:
        c = self.mapping(obj, "a citation", loc)
        if c is None:
            return None
        self.keys(c, "a citation", ("instrument", "eid"), ())
        inst_id, eid = c.get("instrument"), c.get("eid")
        if not isinstance(inst_id, str) or not isinstance(eid, str):
            return None
        inst = self.instruments.get(inst_id)
        if inst is None:
            self.add(
                c.where("instrument"),
                f"unknown instrument {inst_id!r}",
                f"known instruments: {', '.join(sorted(self.instruments))}",
            )
            return None
        if eid not in inst.provisions:
            near = [e for e in inst.provisions if e.split("__")[0] == eid.split("__")[0]]
            self.add(
                c.where("eid"),
                f"{inst_id} has no provision {eid!r}",
                f"provisions of that article: {', '.join(near)}" if near else "see the instrument's eids",
            )
            return None
        return Citation(inst_id, eid)

    def citations(self, obj: LocatedDict, key: str, batch_entries: bool = False) -> tuple[Citation, ...]:
        """The fixed citations listed under ``key``; with ``batch_entries`` (a rule's), ``{batch_of: ...}``
        entries are left for :func:`policy.batches.rule_citations`, which needs the rule's facts."""
        val = obj.get(key)
        if not isinstance(val, list) or not val:
            self.add(
                obj.where(key),
                f"`{key}` must list at least one provision",
                "every rule and parameter cites the law it comes from",
            )
            return ()
        out = []
        for i, item in enumerate(val):
            if batch_entries and isinstance(item, dict) and "batch_of" in item:
                continue
            c = self.citation(item, self.where(val, i))
            if c:
                out.append(c)
        return tuple(out)

    def expression(self, text: Any, scope: E.Scope, loc: Location, what: str) -> E.Node | None:
        if not isinstance(text, (str, int, float, bool)):
            self.add(loc, f"{what} must be a text")
            return None
        try:
            return E.parse(str(text) if not isinstance(text, bool) else ("true" if text else "false"), scope)
        except E.ExprError as exc:
            col = loc.column + exc.column - 1 if "\n" not in str(text) else loc.column
            self.add(Location(loc.line, col), f"{what}: {exc.message}", exc.hint)
            return None


def _written(value: Any) -> bool:
    """True for a text with more than blanks in it."""
    return isinstance(value, str) and bool(value.strip())


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _date_or_none(ch: _Checker, obj: LocatedDict, key: str) -> int | None:
    val = obj.get(key)
    if val is None:
        return None
    try:
        return parse_date(str(val))
    except ValueError:
        ch.add(obj.where(key), f"`{key}` must be a date YYYY-MM-DD or null, not {val!r}")
        return None


def load_ruleset_file(path: Path, instruments: Mapping[str, Instrument], display: str | None = None) -> Ruleset:
    """Read and validate a ruleset file; see :func:`load_ruleset`."""
    raw = Path(path).read_bytes()
    return load_ruleset(raw, display or str(path), instruments)


def load_ruleset(text: str | bytes, path: str, instruments: Mapping[str, Instrument]) -> Ruleset:
    """Parse and validate a ruleset; raise RulesetInvalid listing every issue."""
    ch = _Checker(path, instruments)
    try:
        doc = load_yaml(text)
    except YamlSourceError as exc:
        loc = exc.location or Location(1, 1)
        raise RulesetInvalid([Issue(path, loc.line, loc.column, exc.message, hint=exc.hint)]) from None
    source = text.decode("utf-8") if isinstance(text, bytes) else text
    top = ch.mapping(doc, "a ruleset file", Location(1, 1))
    if top is None:
        raise RulesetInvalid(ch.issues)
    ch.keys(
        top,
        "the ruleset",
        ("ruleset", "version", "title", "instrument", "rules"),
        (
            "status",
            "effective",
            "reads_facts_from",
            "parameters",
            "derived",
            "computed",
            "description",
            "scenarios",
            "responsibility",
            "batches",
        ),
    )

    rid, version = top.get("ruleset"), top.get("version")
    if not isinstance(rid, str) or not ID_RE.match(rid):
        ch.add(top.where("ruleset"), f"ruleset id {rid!r} must be lower-case letters, digits, . _ -")
    if not isinstance(version, (str, int)) or not VERSION_RE.match(str(version)):
        ch.add(top.where("version"), f"version {version!r} must be letters, digits, . _ -")
    title = ch.text(top, "title", "the ruleset", required=True)
    description = ch.text(top, "description", "the ruleset")
    status = top.get("status", "active")
    if status not in RULESET_STATUSES:
        ch.add(top.where("status"), f"status {status!r} must be one of {', '.join(RULESET_STATUSES)}")
    inst_id = top.get("instrument")
    instrument = instruments.get(inst_id) if isinstance(inst_id, str) else None
    if instrument is None:
        ch.add(
            top.where("instrument"),
            f"unknown instrument {inst_id!r}",
            f"known instruments: {', '.join(sorted(instruments))}",
        )

    eff_from = eff_to = None
    if "effective" in top:
        eff = ch.mapping(top["effective"], "`effective`", top.where("effective"))
        if eff is not None:
            ch.keys(eff, "`effective`", (), ("from", "to"))
            eff_from, eff_to = _date_or_none(ch, eff, "from"), _date_or_none(ch, eff, "to")
            if eff_from is not None and eff_to is not None and eff_to < eff_from:
                ch.add(eff.where("to"), "`effective.to` is before `effective.from`")
    reads_from = _date_or_none(ch, top, "reads_facts_from")
    if reads_from is not None and (eff_from is None or reads_from > eff_from):
        ch.add(
            top.where("reads_facts_from"),
            "`reads_facts_from` must be on or before `effective.from`",
            "it only widens the facts read back from the start of the effective period; "
            "without `effective.from` every earlier fact is read already",
        )
        reads_from = None

    parameters = _parameters(ch, top)
    param_types = {n: p.type for n, p in parameters.items()}
    fact_fields: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
        name: {f.name: (f.type, f.enum) for f in lst.condition_fields.values()} for name, lst in FACT_LISTS.items()
    }
    always: dict[str, set[str]] = {
        name: {f.name for f in lst.condition_fields.values() if f.always_present} for name, lst in FACT_LISTS.items()
    }
    batches, batch_warnings = parse_batches(ch, top)
    ch.batches = batches
    if batches:  # a fact naming one of them carries its figures (never "always": the batch may be unnamed)
        for name in BATCH_LISTS:
            fact_fields[name].update(BATCH_FIELDS)
    computed = _computed(ch, top, fact_fields, param_types)
    aggregates = _aggregates(ch, top, fact_fields, always, param_types)
    rules = _rules(ch, top, fact_fields, always, param_types)
    for name, fields in fact_fields.items():
        if len(fields) > MAX_FIELDS_PER_FACT:
            ch.add(
                top.where(),
                f"facts `{name}` would carry {len(fields)} fields, over the engine's limit of {MAX_FIELDS_PER_FACT}",
            )

    responsibility = None
    if "responsibility" in top:
        resp = ch.mapping(top["responsibility"], "`responsibility`", top.where("responsibility"))
        if resp is not None:
            ch.keys(resp, "`responsibility`", ("citation", "enterprise_role"), ("group_role",))
            citation = ch.citation(resp.get("citation"), resp.where("citation"))
            group_role = ch.text(resp, "group_role", "`responsibility`")
            enterprise_role = ch.text(resp, "enterprise_role", "`responsibility`", required=True)
            if citation and enterprise_role and (group_role or resp.get("group_role") is None):
                responsibility = Responsibility(citation, group_role, enterprise_role)

    if ch.issues:
        raise RulesetInvalid(ch.issues)
    # each was reported above when missing or of the wrong kind
    assert isinstance(rid, str) and isinstance(inst_id, str) and instrument is not None and title is not None
    # filled with the warnings once the ruleset is known to be valid (the liveness check reads the ruleset)
    extra: dict[str, Any] = {"scenarios": top.get("scenarios")} if "scenarios" in top else {}
    ruleset = Ruleset(
        id=rid,
        version=str(version),
        title=title,
        status=status,
        instrument=inst_id,
        instrument_status=instrument.status,
        effective_from=eff_from,
        effective_to=eff_to,
        parameters=parameters,
        aggregates=aggregates,
        computed=tuple(computed),
        rules=tuple(rules),
        fact_fields=fact_fields,
        source=source,
        digest=_digest(source),
        path=path,
        description=description,
        extra=extra,
        responsibility=responsibility,
        reads_facts_from=reads_from,
        batches=batches,
    )
    # Rules that can never fire are refused; computed fields nobody reads are only warned about.
    errors, warnings = liveness.problems(ruleset, ch.computed_at)
    for loc, message, rule_id, hint in errors:
        ch.issues.append(Issue(path, loc.line, loc.column, message, rule_id, hint))
    if ch.issues:
        raise RulesetInvalid(ch.issues)
    extra["warnings"] = [
        Issue(path, loc.line, loc.column, message, rule_id, hint) for loc, message, rule_id, hint in warnings
    ]
    extra["warnings"] += [
        Issue(path, loc.line, loc.column, message, None, hint) for loc, message, hint in batch_warnings
    ]
    return ruleset


def _parameters(ch: _Checker, top: LocatedDict) -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    params = top.get("parameters") or {}
    if not isinstance(params, dict):
        ch.add(top.where("parameters"), "`parameters` must be a mapping of name: {value, citations}")
        return out
    for name, body in params.items():
        loc = params.where(name) if isinstance(params, LocatedDict) else Location(1, 1)
        if not NAME_RE.match(name):
            ch.add(loc, f"parameter name {name!r} must be lower_case_with_underscores")
        p = ch.mapping(body, f"parameter `{name}`", loc)
        if p is None:
            continue
        ch.keys(p, f"parameter `{name}`", ("value", "label", "citations"), ("unit", "type", "note"))
        value, ptype, unit = p.get("value"), p.get("type"), p.get("unit")
        if unit is not None and not isinstance(unit, str):
            ch.add(p.where("unit"), f"parameter `{name}`: `unit` must be a text such as t_reo, not {unit!r}")
            unit = None
        if value is None:  # left for the regulator to set (e.g. a draft written by `repolicy new-notice`)
            ch.add(
                p.where("value"),
                f"parameter `{name}` is not set (value: null)",
                "give the figure, text or date of the provision it cites (its `citations`)",
            )
            if ptype in ("number", "string", "date", "boolean"):  # typed: its uses are still checked
                out[name] = Parameter(
                    name,
                    None,
                    ptype,
                    unit,
                    ch.text(p, "label", f"parameter `{name}`", required=True) or {},
                    ch.citations(p, "citations"),
                    ch.text(p, "note", f"parameter `{name}`"),
                )
            continue
        if ptype == "date" or (ptype is None and isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\d$", value)):
            try:
                value, ptype = parse_date(str(value)), "date"
            except ValueError:
                ch.add(p.where("value"), f"parameter `{name}`: {value!r} is not a date")
                continue
        elif isinstance(value, bool):
            ptype = "boolean"
        elif isinstance(value, (int, float)):
            ptype = "number"
        elif isinstance(value, str):
            ptype = "string"
        else:
            ch.add(p.where("value"), f"parameter `{name}` needs a number, text or date value")
            continue
        label = ch.text(p, "label", f"parameter `{name}`", required=True) or {}
        out[name] = Parameter(
            name,
            value,
            ptype,
            unit,
            label,
            ch.citations(p, "citations"),
            ch.text(p, "note", f"parameter `{name}`"),
        )
    return out


def _computed(ch: _Checker, top: LocatedDict, fact_fields: dict, param_types: dict) -> list[Computed]:
    out: list[Computed] = []
    items = top.get("computed") or []
    if not isinstance(items, list):
        ch.add(top.where("computed"), "`computed` must be a list")
        return out
    for i, item in enumerate(items):
        c = ch.mapping(item, "a computed field", ch.where(items, i))
        if c is None:
            continue
        ch.keys(c, "a computed field", ("list", "as", "field", "value"), ("description",))
        lst, alias, fname = c.get("list"), c.get("as"), c.get("field")
        if not isinstance(lst, str) or lst not in FACT_LISTS:
            ch.add(c.where("list"), f"unknown fact list {lst!r}", f"lists: {', '.join(FACT_LISTS)}")
            continue
        if not isinstance(alias, str) or not NAME_RE.match(alias) or alias == "params":
            ch.add(c.where("as"), f"alias {alias!r} must be a lower-case name")
            continue
        if not isinstance(fname, str) or not NAME_RE.match(fname) or fname in RESERVED_FIELDS:
            ch.add(c.where("field"), f"field name {fname!r} must be a lower-case name, not reserved")
            continue
        if fname in fact_fields[lst]:
            ch.add(c.where("field"), f"`{lst}` already has a field `{fname}`")
            continue
        scope = E.Scope({alias: fact_fields[lst]}, param_types, functions=True, allow_as_of=False)
        node = ch.expression(c.get("value"), scope, c.where("value"), f"computed `{lst}.{fname}`")
        if node is None:
            continue
        ftype = E.type_of(node, scope)
        fact_fields[lst][fname] = (ftype, ())
        ch.computed_at[(lst, fname)] = ch.where(items, i)
        out.append(Computed(lst, alias, fname, ftype, node, ch.text(c, "description", "a computed field")))
    return out


def _aggregates(
    ch: _Checker, top: LocatedDict, fact_fields: dict, always: dict, param_types: dict
) -> dict[str, Aggregate]:
    out: dict[str, Aggregate] = {}
    items = top.get("derived") or {}
    if not isinstance(items, dict):
        ch.add(top.where("derived"), "`derived` must be a mapping of name: {from, group_by, sum, count}")
        return out
    for name, body in items.items():
        loc = items.where(name) if isinstance(items, LocatedDict) else Location(1, 1)
        if not NAME_RE.match(name) or name in FACT_LISTS:
            ch.add(loc, f"derived fact name {name!r} must be a new lower_case name")
            continue
        d = ch.mapping(body, f"derived `{name}`", loc)
        if d is None:
            continue
        ch.keys(d, f"derived `{name}`", ("from", "group_by"), ("sum", "count", "where", "as", "description"))
        src = d.get("from")
        if not isinstance(src, str) or src not in FACT_LISTS:
            ch.add(d.where("from"), f"unknown fact list {src!r}", f"lists: {', '.join(FACT_LISTS)}")
            continue
        fields = fact_fields[src]
        group_by = d.get("group_by")
        if not isinstance(group_by, list) or not group_by:
            ch.add(d.where("group_by"), "`group_by` must list at least one field")
            continue
        new_fields: dict[str, tuple[str, tuple[str, ...]]] = {}
        ok = True
        for j, key in enumerate(group_by):
            if not isinstance(key, str) or key not in fields:
                ch.add(
                    ch.where(group_by, j), f"`{src}` has no field {key!r}", f"its fields: {', '.join(sorted(fields))}"
                )
                ok = False
            else:  # a fact whose key is unknown is left out of the sums (it cannot be attributed)
                new_fields[key] = fields[key]
        sums = d.get("sum") or {}
        if not isinstance(sums, dict):
            ch.add(d.where("sum"), "`sum` must map output field: source field")
            sums = {}
        for out_name, src_field in sums.items():
            if not NAME_RE.match(out_name) or out_name in RESERVED_FIELDS:
                ch.add(ch.where(sums, out_name), f"sum field name {out_name!r} must be a lower-case name, not reserved")
                ok = False
            elif not isinstance(src_field, str) or fields.get(src_field, ("",))[0] != "number":
                ch.add(ch.where(sums, out_name), f"`{src}.{src_field}` is not a number field to sum")
                ok = False
            elif src_field not in always[src]:
                ch.add(ch.where(sums, out_name), f"`{src}.{src_field}` may be unknown and cannot be summed")
                ok = False
            new_fields[out_name] = ("number", ())
        count = d.get("count")
        if count is not None:
            if not isinstance(count, str) or not NAME_RE.match(count) or count in RESERVED_FIELDS:
                ch.add(d.where("count"), "`count` names the field holding the number of facts")
                ok = False
            else:
                new_fields[count] = ("number", ())
        alias = d.get("as", "f")
        if not isinstance(alias, str) or not NAME_RE.match(alias) or alias == "params":
            ch.add(d.where("as"), f"alias {alias!r} must be a lower-case name")
            continue
        where = None
        if "where" in d:
            scope = E.Scope({alias: fields}, param_types)
            where = ch.expression(d.get("where"), scope, d.where("where"), f"derived `{name}` where")
            ok = ok and where is not None
        if not ok:
            continue
        fact_fields[name] = new_fields
        always[name] = set(new_fields)
        out[name] = Aggregate(
            name, src, tuple(group_by), dict(sums), count, where, alias, ch.text(d, "description", f"derived `{name}`")
        )
    return out


def _rules(ch: _Checker, top: LocatedDict, fact_fields: dict, always: dict, param_types: dict) -> list[Rule]:
    out: list[Rule] = []
    rules = top.get("rules")
    if not isinstance(rules, list) or not rules:
        ch.add(top.where("rules"), "`rules` must list at least one rule")
        return out
    if len(rules) > MAX_RULES:
        ch.add(top.where("rules"), f"{len(rules)} rules, over the limit of {MAX_RULES} per ruleset")
    seen: dict[str, Location] = {}
    for i, body in enumerate(rules):
        ch.rule_id = None
        r = ch.mapping(body, "a rule", ch.where(rules, i))
        if r is None:
            continue
        rule_id = r.get("id")
        if isinstance(rule_id, str):
            ch.rule_id = rule_id
        rule = _rule(ch, r, fact_fields, always, param_types)
        if isinstance(rule_id, str) and rule_id in seen:
            ch.add(r.where("id"), f"duplicate rule id {rule_id!r} (first at line {seen[rule_id].line})")
            continue
        if isinstance(rule_id, str):
            seen[rule_id] = r.where("id")
        if rule:
            out.append(rule)
    ch.rule_id = None
    return out


def _rule(ch: _Checker, r: LocatedDict, fact_fields: dict, always: dict, param_types: dict) -> Rule | None:
    ch.keys(
        r,
        "a rule",
        ("id", "title", "message", "severity", "subject", "when", "citations"),
        ("unless", "details", "period", "consequences", "description", "interpretation"),
    )
    n_before = len(ch.issues)
    rule_id = r.get("id")
    if not isinstance(rule_id, str) or not RULE_ID_RE.match(rule_id):
        ch.add(r.where("id"), f"rule id {rule_id!r} must be lower-case letters, digits, . _ -")
    title = ch.text(r, "title", "the rule", required=True)
    message = ch.text(r, "message", "the rule", required=True)
    description = ch.text(r, "description", "the rule")
    severity = r.get("severity")
    if severity not in SEVERITIES:
        ch.add(r.where("severity"), f"severity {severity!r} must be one of {', '.join(SEVERITIES)}")
    citations = ch.citations(r, "citations", batch_entries=True)

    aliases: dict[str, dict] = {}
    patterns: list[Pattern] = []
    positive_facts: set[str] = set()
    for key, negated in (("when", False), ("unless", True)):
        items = r.get(key, [] if negated else None)
        if not isinstance(items, list) or (not negated and not items):
            ch.add(
                r.where(key),
                f"`{key}` must list {'at least one fact' if not negated else 'facts'}",
                "each item: {fact: LIST, as: alias, where: condition}",
            )
            return None
        if len(items) + len(patterns) > MAX_PATTERNS_PER_RULE:
            ch.add(r.where(key), f"more than {MAX_PATTERNS_PER_RULE} facts in one rule")
        for j, item in enumerate(items):
            p = _pattern(
                ch,
                item,
                ch.where(items, j),
                negated,
                aliases,
                fact_fields,
                always,
                param_types,
                positive_facts,
                first=not patterns,
            )
            if p is None:
                return None  # later parts read the aliases: their errors would only repeat this one
            patterns.append(p)
            if not negated:
                positive_facts.add(p.fact)

    citations, citation_entries = rule_citations(ch, r.get("citations"), citations, patterns, fact_fields)
    pos_scope = E.Scope({a: f for a, f in aliases.items()}, param_types)
    # period, details and consequences are computed in Python after matching: functions are allowed there
    value_scope = E.Scope(pos_scope.aliases, param_types, functions=True)
    subject_type: str | E.Node | None = None
    subject_id = None
    subj = ch.mapping(r.get("subject"), "`subject`", r.where("subject"))
    if subj is not None:
        ch.keys(subj, "`subject`", ("type", "id"), ())
        written_type = subj.get("type")
        if written_type in SUBJECT_TYPES:
            subject_type = written_type
        else:
            # or an expression giving one of them, e.g. r.level for a report's author
            node = (
                ch.expression(written_type, pos_scope, subj.where("type"), "subject type")
                if isinstance(written_type, str) and "." in written_type
                else None
            )
            if node is None:
                ch.add(
                    subj.where("type"),
                    f"subject type {written_type!r} must be one of {', '.join(SUBJECT_TYPES)} "
                    f"or a field giving one (e.g. r.level)",
                )
            elif (
                E.type_of(node, pos_scope) != "enum"
                or not E.enum_values(node, pos_scope)
                or not set(E.enum_values(node, pos_scope)) <= set(SUBJECT_TYPES)
            ):
                ch.add(subj.where("type"), f"`{written_type}` does not give a subject type")
            else:
                subject_type = node
        subject_id = ch.expression(subj.get("id"), pos_scope, subj.where("id"), "subject id")
        if subject_id is not None and E.type_of(subject_id, pos_scope) not in ("string", "enum"):
            ch.add(subj.where("id"), "subject id must be a text field, e.g. total.enterprise")
    period = None
    if "period" in r:
        period = ch.expression(r.get("period"), value_scope, r.where("period"), "period")

    details: dict[str, E.Node] = {}
    dmap = r.get("details") or {}
    if not isinstance(dmap, dict):
        ch.add(r.where("details"), "`details` must map name: expression")
        dmap = {}
    for name, text in dmap.items():
        if not NAME_RE.match(name):
            ch.add(ch.where(dmap, name), f"detail name {name!r} must be lower_case_with_underscores")
            continue
        node = ch.expression(text, value_scope, ch.where(dmap, name), f"detail `{name}`")
        if node is not None:
            details[name] = node

    consequences = []
    cons = r.get("consequences") or []
    if not isinstance(cons, list):
        ch.add(r.where("consequences"), "`consequences` must be a list")
        cons = []
    for j, item in enumerate(cons):
        c = ch.mapping(item, "a consequence", ch.where(cons, j))
        if c is None:
            continue
        ctype = c.get("type")
        if not isinstance(ctype, str) or not NAME_RE.match(ctype):
            ch.add(c.where("type"), "a consequence needs a `type` such as next_year_quota_reduction")
            continue
        citation = ch.citation(c.get("citation"), c.where("citation")) if "citation" in c else None
        if citation is None and "citation" not in c:
            ch.add(c.where(), "a consequence needs its `citation`")
        values: dict[str, E.Node] = {}
        for k, v in c.items():
            if k in ("type", "citation", "description"):
                continue
            # a value names one of the rule's details (basis_t_reo: excess_t_reo) or is an expression
            node = details.get(v) if isinstance(v, str) else None
            node = node or ch.expression(v, value_scope, c.where(k), f"consequence `{k}`")
            if node is not None:
                values[k] = node
        if citation:
            consequences.append(Consequence(ctype, citation, values, ch.text(c, "description", "a consequence")))

    placeholders = set(details) | {"subject", "period"}
    for lang in LANGS:
        tmpl = (message or {}).get(lang)
        if tmpl is None:
            continue
        try:
            for _, fname, _spec, conv in string.Formatter().parse(tmpl):
                if fname is None:
                    continue
                if fname not in placeholders or conv:
                    ch.add(
                        r.where("message"),
                        f"message ({lang}) uses unknown placeholder {{{fname}}}",
                        f"available: {', '.join('{' + p + '}' for p in sorted(placeholders))}",
                    )
        except ValueError as exc:
            ch.add(
                r.where("message"),
                f"message ({lang}) is not a valid template: {exc}",
                "write {name} for a value, {{ and }} for literal braces",
            )

    if len(ch.issues) > n_before or subject_id is None:
        return None
    # each was reported above when missing or of the wrong kind
    assert isinstance(rule_id, str) and title and message and severity and subject_type is not None
    value_types = {name: E.type_of(node, value_scope) for name, node in details.items()}
    if period is not None:
        value_types["period"] = E.type_of(period, value_scope)
    return Rule(
        rule_id,
        title,
        message,
        severity,
        subject_type,
        subject_id,
        period,
        tuple(patterns),
        details,
        citations,
        tuple(consequences),
        description,
        r.where(),
        value_types,
        _interpretations(ch, r),
        citation_entries,
    )


def _interpretations(ch: _Checker, r: LocatedDict) -> tuple[Interpretation, ...]:
    """A rule's ``interpretation``: one entry or a list, each {question, reading, alternative, reason[, citation]}."""
    raw = r.get("interpretation")
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for j, item in enumerate(items):
        loc = ch.where(items, j) if isinstance(raw, list) else r.where("interpretation")
        entry = ch.mapping(item, "an interpretation", loc)
        if entry is None:
            continue
        ch.keys(entry, "an interpretation", ("question", "reading", "alternative", "reason"), ("citation",))
        question, reading, alternative, reason = (
            ch.text(entry, key, "the interpretation", required=True)
            for key in ("question", "reading", "alternative", "reason")
        )
        citation = ch.citation(entry.get("citation"), entry.where("citation")) if "citation" in entry else None
        if question and reading and alternative and reason:
            out.append(Interpretation(question, reading, alternative, reason, citation=citation))
    return tuple(out)


def _pattern(
    ch: _Checker,
    item: Any,
    loc: Location,
    negated: bool,
    aliases: dict,
    fact_fields: dict,
    always: dict,
    param_types: dict,
    positive_facts: set[str],
    first: bool,
) -> Pattern | None:
    p = ch.mapping(item, "a fact pattern", loc)
    if p is None:
        return None
    ch.keys(p, "a fact pattern", ("fact",), ("as", "where"))
    fact = p.get("fact")
    if not isinstance(fact, str) or fact not in fact_fields:
        ch.add(
            p.where("fact"),
            f"unknown fact list {fact!r}",
            f"request lists: {', '.join(FACT_LISTS)}; derived: {', '.join(k for k in fact_fields if k not in FACT_LISTS) or 'none'}",
        )
        return None
    alias = p.get("as", fact if not negated else f"no_{fact}")
    if not isinstance(alias, str) or not NAME_RE.match(alias) or alias in ("params", "as_of"):
        ch.add(p.where("as"), f"alias {alias!r} must be a lower-case name")
        return None
    if alias in aliases:
        ch.add(p.where("as"), f"alias {alias!r} is already bound in this rule")
        return None
    if negated and fact in positive_facts:
        ch.add(
            p.where("fact"),
            f"`unless` cannot name `{fact}`, which the rule also matches in `when`",
            "the engine's negation is unreliable on a list matched both ways: derive a separate fact",
        )
        return None
    scope = E.Scope({**aliases, alias: fact_fields[fact]}, param_types)
    where = None
    if "where" in p:
        where = ch.expression(p.get("where"), scope, p.where("where"), f"`{fact}` condition")
        if where is None:
            return None
        refs = E.field_refs(where)
        if any(ref.alias != alias for ref in refs) and not any(ref.alias == alias for ref in refs):
            ch.add(p.where("where"), f"the condition on `{alias}` must read at least one of its fields")
            return None
        if negated:
            for ref in refs:
                if ref.alias == alias and ref.name not in always[fact]:
                    ch.add(
                        p.where("where"),
                        f"`{alias}.{ref.name}` may be unknown: an `unless` condition may read "
                        f"only fields every `{fact}` fact has",
                        f"always-known fields: {', '.join(sorted(always[fact]))}",
                    )
                    return None
        if _divides(where):
            ch.add(
                p.where("where"),
                "division (/) is not allowed in conditions",
                "multiply the other side instead: a.x > b.y * 2 rather than a.x / 2 > b.y",
            )
            return None
        problem = _comparison_problem(E.push_not(where), alias)
        if problem:
            ch.add(
                p.where("where"),
                problem,
                f"put a field of `{alias}` on one side of each comparison, e.g. {alias}.amount_t_reo > other.amount_t_reo",
            )
            return None
        if not first and not _has_equality_join(where, alias):
            ch.add(
                p.where("where"),
                f"`{alias}` is joined to earlier facts without an equality (==) on a field",
                "join on a key, e.g. q.enterprise == t.enterprise; inequality-only joins are quadratic",
            )
            return None
    elif not first:
        ch.add(
            p.where(),
            f"`{alias}` needs a `where` joining it to earlier facts",
            "e.g. where: q.enterprise == t.enterprise",
        )
        return None
    if not negated:
        aliases[alias] = fact_fields[fact]
    return Pattern(alias, fact, where, negated, p.where())


def _has_equality_join(node: E.Node, alias: str) -> bool:
    """True when a top-level conjunct equates a field of ``alias`` with a field of another fact."""
    parts = node.operands if isinstance(node, E.BoolOp) and node.op == "and" else (node,)
    for part in parts:
        if isinstance(part, E.Compare) and part.op == "==":
            sides = (part.left, part.right)
            if any(isinstance(s, E.FieldRef) and s.alias == alias for s in sides) and any(
                isinstance(s, E.FieldRef) and s.alias != alias for s in sides
            ):
                return True
    return False


class _ComparisonProblem(Visitor[str | None]):
    """The engine tests a field of the pattern's own fact against an expression: the first comparison (``not``
    pushed down) that does not, as a message, or None."""

    def __init__(self, alias: str):
        self.alias = alias

    @handles(E.BoolOp)
    def boolop(self, node: E.BoolOp) -> str | None:
        return next((p for p in map(self.visit, node.operands) if p), None)

    @handles(E.Compare)
    def compare(self, node: E.Compare) -> str | None:
        if E.isolate(node, self.alias) is not None:
            return None
        return f"`{E.to_text(node)}` does not compare a field of `{self.alias}`"

    @handles(E.Const, E.FieldRef, E.ParamRef, E.AsOf, E.Neg, E.Not, E.Arith, E.Call)
    def other(self, node: E.Node) -> str | None:
        return None


def _comparison_problem(node: E.Node, alias: str) -> str | None:
    return _ComparisonProblem(alias).visit(node)


class _Divides(Visitor[bool]):
    """True when the condition divides outside a function's arguments (the engine's C core crashes on a
    division by zero; a function is computed in Python)."""

    @handles(E.Arith)
    def arith(self, node: E.Arith) -> bool:
        return node.op == "/" or self.visit(node.left) or self.visit(node.right)

    @handles(E.Compare)
    def compare(self, node: E.Compare) -> bool:
        return self.visit(node.left) or self.visit(node.right)

    @handles(E.BoolOp)
    def boolop(self, node: E.BoolOp) -> bool:
        return any(self.visit(o) for o in node.operands)

    @handles(E.Not, E.Neg)
    def unary(self, node: E.Not | E.Neg) -> bool:
        return self.visit(node.operand)

    @handles(E.Const, E.FieldRef, E.ParamRef, E.AsOf, E.Call)
    def leaf(self, node: E.Node) -> bool:
        return False


def _divides(node: E.Node) -> bool:
    return _Divides().visit(node)
