"""From rule matches to violations as the contract shapes them.

The engine says which rule matched which facts; this module adds what a
person reads: the rule's title, its message with the values filled in, the
cited provisions with their verbatim text and legal status, and the
consequences.  Matches of one rule for the same subject and period are one
violation (the contract: "one violation per rule per subject and period").
"""

from __future__ import annotations

import json
import string
from typing import Any, Protocol
from collections.abc import Iterable, Mapping

from policy import expr as E
from policy.batches import finding_citations
from policy.facts import ENUM_LABELS
from policy.force import binding
from policy.functions import UnknownValue, from_day
from policy.instruments import Instrument
from policy.model import SEVERITIES, SEVERITY_RANK, Citation, Rule, Ruleset

UNKNOWN_TEXT = {"zh": "未知", "en": "unknown"}


class MatchLike(Protocol):
    rule: str
    bindings: Mapping[str, Mapping[str, Any]]
    sources: Mapping[str, tuple[tuple[str, int], ...]]


def _json_value(value: Any, vtype: str) -> Any:
    """A detail value for the JSON response (dates as ISO text)."""
    if vtype == "date" and isinstance(value, (int, float)):
        return from_day(value).isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def lead_order(match: MatchLike) -> str:
    """Sort key of a violation's matches: the one whose facts sort first by content leads (fills its
    details and message), whatever the order of the request's lists."""
    return json.dumps(match.bindings, sort_keys=True, default=str)


def display_value(value: Any, vtype: str, lang: str) -> str:
    """A value as a person reads it (messages, plain-language rules): 5,320; 2021-10-11; 稀土开采; 是 / yes."""
    if value is None:
        return UNKNOWN_TEXT[lang]
    if vtype == "date":
        return from_day(value).isoformat() if isinstance(value, (int, float)) else str(value)
    if vtype == "enum" and value in ENUM_LABELS:
        return ENUM_LABELS[value][lang]
    if isinstance(value, bool):
        return {"zh": "是" if value else "否", "en": "yes" if value else "no"}[lang]
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer():
            return f"{value:,.3f}".rstrip("0").rstrip(".")
        return f"{int(value):,}"
    return str(value)


TEXT_NOT_AVAILABLE = {
    "zh": "（本文件仅登记了文号、日期、发布机关和状态，条文文本不可得）",
    "en": "(only this instrument's number, date, issuer and status are registered; its text is not available)",
}


def citation_json(citation: Citation, instruments: Mapping[str, Instrument]) -> dict[str, Any]:
    inst = instruments[citation.instrument]
    prov = inst.provision(citation.eid)
    if not inst.text_available:  # registered by its metadata only: say so rather than quote nothing
        return {
            "instrument": inst.id,
            "eid": prov.eid,
            "label": dict(prov.label),
            "status": inst.status,
            "text": TEXT_NOT_AVAILABLE["zh"],
            "text_en": TEXT_NOT_AVAILABLE["en"],
            "text_available": False,
        }
    out = {"instrument": inst.id, "eid": prov.eid, "label": dict(prov.label), "status": inst.status, "text": prov.text}
    if prov.text_en:
        out["text_en"] = prov.text_en
    return out


_SHOWN: dict[tuple[str, type, Any], str] = {}  # explanation values already written, by type (True is not 1)
_SHOWN_MAX = 8192


def _show_explained(value: Any, vtype: str, node: E.Node) -> str:
    """A value in a violation's ``explanation``: as in messages (English), a year or month without separators.

    Findings repeat values (years, parameters, amounts): each is written once and looked up after."""
    if isinstance(node, E.FieldRef) and node.name in ("year", "month"):
        return str(value)
    key = (vtype, type(value), value)
    try:
        return _SHOWN[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable value: written each time
        return display_value(value, vtype, "en")
    if len(_SHOWN) >= _SHOWN_MAX:
        _SHOWN.clear()
    text = _SHOWN[key] = display_value(value, vtype, "en")
    return text


def cite_by_reference(violations: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Citations once per response (``?citations=refs``, for machine callers): each violation's
    citations become ``{"instrument", "eid"}`` and the provisions they cite are returned once each,
    ``{instrument: {eid: citation}}``, every entry the whole citation a default response carries
    (label, legal status, verbatim text and translation), so replacing each reference by its entry
    gives the default response back.  Where many violations cite the same provision (hundreds of
    over-quota findings citing one paragraph), its text is then sent once, not hundreds of times."""
    provisions: dict[str, dict[str, dict[str, Any]]] = {}
    for violation in violations:
        refs = []
        for citation in violation["citations"]:
            instrument, eid = citation["instrument"], citation["eid"]
            provisions.setdefault(instrument, {}).setdefault(eid, citation)
            refs.append({"instrument": instrument, "eid": eid})
        violation["citations"] = refs
    return provisions


class _CompiledRule:
    """What rendering a rule's violations needs, prepared once per rule version.

    Rule versions are immutable, so the expressions are compiled to closures
    (``expr.compile_py``, same semantics as ``expr.evaluate``), the message
    templates parsed and the explanation compiled (``expr.compile_explanation``) once instead of for
    every violation.  Citations are not cached here: an instrument's text may be
    reloaded independently of the rules.
    """

    def __init__(self, ruleset: Ruleset, rule: Rule):
        self.rule = rule
        self.subject = E.compile_py(rule.subject_id)
        self.subject_type = None if isinstance(rule.subject_type, str) else E.compile_py(rule.subject_type)
        self.period = E.compile_py(rule.period) if rule.period is not None else None
        self.details = tuple((name, E.compile_py(node)) for name, node in rule.details.items())
        self.message = {
            lang: tuple((literal, name) for literal, name, _spec, _conv in string.Formatter().parse(rule.message[lang]))
            for lang in ("zh", "en")
        }
        # the details each language's message shows (only those are formatted for display)
        self.message_fields = {
            lang: frozenset(name for _literal, name in parts if name is not None)
            for lang, parts in self.message.items()
        }
        self.consequences = tuple(
            (
                c.type,
                tuple((key, E.compile_py(node)) for key, node in c.values.items()),
                {"instrument": c.citation.instrument, "eid": c.citation.eid},
                dict(c.description) if c.description else None,
            )
            for c in rule.consequences
        )
        self.wheres = tuple(p.where for p in rule.positive if p.where is not None)
        # the readings of open provisions the rule applies: each of its findings says it depends on them
        self.interpretations = tuple(
            {"question": dict(i.question), "reading": dict(i.reading)} for i in rule.interpretations
        )
        self.scope = E.Scope(ruleset.fact_fields_by_alias(rule), {n: p.type for n, p in ruleset.parameters.items()})
        # the violation's ``explanation``: its conditions joined by " and ", each value written as in messages
        self.explanation = E.compile_explanation(self.wheres, _show_explained, self.scope)


_COMPILED: dict[tuple[str, str], _CompiledRule] = {}


def _compiled(ruleset: Ruleset, rule: Rule) -> _CompiledRule:
    """The rule's :class:`_CompiledRule`, keyed by the ruleset's digest (a version's content)."""
    key = (ruleset.digest, rule.id)
    cached = _COMPILED.get(key)
    if cached is None or cached.rule is not rule:
        cached = _COMPILED[key] = _CompiledRule(ruleset, rule)
    return cached


def _run(fn: E.Compiled | None, bindings: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
    """A compiled expression's value, None when unknown (as :func:`_evaluate`)."""
    if fn is None:
        return None
    try:
        return fn(bindings, params, None)
    except UnknownValue:
        return None


def _evaluate(node: E.Node, bindings: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
    try:
        return E.evaluate(node, bindings, params)
    except UnknownValue:
        return None


def _fact_refs(sources: Iterable[tuple[tuple[str, int], ...]]) -> list[dict[str, Any]]:
    refs = sorted({ref for group in sources for ref in group})
    return [{"list": name, "index": index} for name, index in refs]


_COMPILED_RULESETS: dict[str, tuple[Ruleset, dict[str, _CompiledRule]]] = {}


def _compiled_rules(ruleset: Ruleset) -> dict[str, _CompiledRule]:
    """Every rule's :class:`_CompiledRule` by id, built once per ruleset version (not per evaluation)."""
    cached = _COMPILED_RULESETS.get(ruleset.digest)
    if cached is None or cached[0] is not ruleset:
        cached = _COMPILED_RULESETS[ruleset.digest] = (ruleset, {r.id: _compiled(ruleset, r) for r in ruleset.rules})
    return cached[1]


def violations(
    ruleset: Ruleset,
    matches: Iterable[MatchLike],
    instruments: Mapping[str, Instrument],
    enterprise_groups: Mapping[str, str | None] | None = None,
    as_of: int | None = None,
    limit: int | None = None,
    tally: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Group matches into violations and render them (unsorted; see :func:`sort_violations`).

    ``limit``: render only that many, the first in the contract's order (rendering is most of the cost
    of a request with tens of thousands of violations); ``tally``: counts every violation found, rendered
    or not, by severity (added to what it holds)."""
    params = ruleset.param_values
    rules = _compiled_rules(ruleset)
    grouped: dict[tuple, list[MatchLike]] = {}
    for m in matches:
        compiled = rules[m.rule]
        subject = _run(compiled.subject, m.bindings, params)
        stype = (
            compiled.rule.subject_type
            if compiled.subject_type is None
            else _run(compiled.subject_type, m.bindings, params)
        )
        period = _run(compiled.period, m.bindings, params)
        grouped.setdefault((m.rule, stype, str(subject), period), []).append(m)
    if tally is not None:
        for rule_id, *_ in grouped:
            severity = rules[rule_id].rule.severity
            tally[severity] = tally.get(severity, 0) + 1
    if limit is not None and len(grouped) > limit:
        first = sorted(
            grouped,
            key=lambda k: (
                SEVERITY_RANK[rules[k[0]].rule.severity],
                k[0],
                k[1],
                k[2],
                "" if k[3] is None else str(k[3]),
            ),
        )[:limit]
        grouped = {k: grouped[k] for k in first}
    out = []
    citations: dict[Citation, dict[str, Any]] = {}  # each provision looked up once per call
    for (rule_id, stype, subject, period), group in grouped.items():
        rule = rules[rule_id]
        # Deterministic whatever the order of the request's lists: the match whose facts sort first
        # by content leads (its values fill the details and message).
        if len(group) > 1:
            group.sort(key=lead_order)
        violation = _violation(ruleset, rule, stype, subject, period, group, params, instruments, as_of, citations)
        if ruleset.responsibility and stype == "enterprise":
            violation["responsible"] = _responsible(ruleset, subject, (enterprise_groups or {}).get(subject))
        out.append(violation)
    return out


def _responsible(ruleset: Ruleset, enterprise: str, group: str | None) -> list[dict[str, Any]]:
    """The enterprise and, where known, its group, each with its role and the provision assigning it."""
    resp = ruleset.responsibility
    assert resp is not None
    cite = {"instrument": resp.citation.instrument, "eid": resp.citation.eid}
    out = [{"type": "enterprise", "id": enterprise, "role": dict(resp.enterprise_role), "citation": cite}]
    if group and resp.group_role:
        out.insert(0, {"type": "group", "id": group, "role": dict(resp.group_role), "citation": cite})
    return out


def _violation(
    ruleset: Ruleset,
    compiled: _CompiledRule,
    subject_type: str,
    subject: str,
    period: Any,
    group: list[MatchLike],
    params: Mapping[str, Any],
    instruments: Mapping[str, Instrument],
    as_of: int | None,
    citations: dict[Citation, dict[str, Any]],
) -> dict[str, Any]:
    rule = compiled.rule
    lead = group[0]
    bindings = lead.bindings
    details_raw = {name: _run(fn, bindings, params) for name, fn in compiled.details}
    types = rule.value_types
    details = {k: _json_value(v, types.get(k, "")) for k, v in details_raw.items() if v is not None}
    message = {}
    for lang in ("zh", "en"):
        shown = compiled.message_fields[lang]
        values = {k: display_value(v, types.get(k, ""), lang) for k, v in details_raw.items() if k in shown}
        values["subject"] = subject
        values["period"] = (
            str(_json_value(period, types.get("period", ""))) if period is not None else UNKNOWN_TEXT[lang]
        )
        message[lang] = "".join(
            literal + (values.get(name, "?") if name is not None else "") for literal, name in compiled.message[lang]
        )
    consequences = []
    for ctype, cvalues, citation, description in compiled.consequences:
        item: dict[str, Any] = {"type": ctype}
        for key, fn in cvalues:
            value = _run(fn, bindings, params)
            if value is not None:
                item[key] = _json_value(value, "")
        item["citation"] = dict(citation)
        if description:
            item["description"] = dict(description)
        consequences.append(item)
    explanation = compiled.explanation(bindings, params, as_of)
    cited = []
    own = rule.citations  # a rule citing a fact's batch cites the batches of this finding's facts only
    if rule.citation_entries:
        own = finding_citations(ruleset.batches, rule.citation_entries, (m.bindings for m in group))
    for c in own:
        shaped = citations.get(c)
        if shaped is None:
            shaped = citations[c] = citation_json(c, instruments)
        cited.append({**shaped, "label": dict(shaped["label"])})
    violation = {
        "rule": rule.id,
        "ruleset": ruleset.ref,
        "binding": binding(ruleset),  # a draft's findings are not law
        "title": dict(rule.title),
        "severity": rule.severity,
        "subject": {"type": subject_type, "id": subject},
        "message": message,
        "details": details,
        "explanation": explanation,
        "facts": _fact_refs(src for m in group for src in m.sources.values()),
        "citations": cited,
        "consequences": consequences,
    }
    if compiled.interpretations:
        violation["interpretations"] = [{k: dict(v) for k, v in i.items()} for i in compiled.interpretations]
    if period is not None:
        violation["period"] = _json_value(period, types.get("period", ""))
        if isinstance(violation["period"], (int, float)):
            violation["period"] = str(violation["period"])
    return violation


def sort_violations(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The contract's stable order: severity, then rule, then subject (then period, ruleset)."""
    return sorted(
        items,
        key=lambda v: (
            SEVERITY_RANK[v["severity"]],
            v["rule"],
            v["subject"]["type"],
            v["subject"]["id"],
            str(v.get("period", "")),
            v["ruleset"],
        ),
    )


def summary(
    items: list[dict[str, Any]], tally: Mapping[str, int] | None = None, non_binding: int | None = None
) -> dict[str, Any]:
    """Counts by severity, and of binding findings apart from those under a draft (pinned only).

    ``tally`` and ``non_binding`` count every violation found when not all are rendered; without them
    the counts are of ``items``."""
    by: dict[str, int] = dict(tally) if tally is not None else {}
    if tally is None:
        for v in items:
            by[v["severity"]] = by.get(v["severity"], 0) + 1
    if non_binding is None:
        non_binding = sum(1 for v in items if not v.get("binding", True))
    total = sum(by.values())
    return {
        "violations": total,
        "by_severity": {s: by[s] for s in SEVERITIES if s in by},
        "binding": total - non_binding,
        "non_binding": non_binding,
    }
