"""Legal sign-off of rules: what a reviewer approved, and whether it still stands.

A reviewer approves a rule *as it means*, not as it is formatted: the
fingerprint (:func:`rule_digest`) covers the rule's own YAML content and
everything it reads from elsewhere in its ruleset (the parameters its
conditions and details use, the derived lists and computed fields it
matches on).  So a new version that only reformats a file, or changes another
rule, keeps the approval; raising a parameter the rule reads (e.g. the capacity
floor from 2,000 to 3,000 t) makes the rule unreviewed until approved again.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from collections.abc import Iterable, Mapping

import yaml

from policy import expr as E
from policy.analysis import computed_behind
from policy.batches import BATCH_FIELDS, BATCH_LISTS
from policy.model import Rule, Ruleset

APPROVED, UNREVIEWED, CHANGED = "approved", "unreviewed", "changed_since_approval"
STATUS_LABELS = {
    APPROVED: {"zh": "已审核", "en": "approved"},
    UNREVIEWED: {"zh": "未审核", "en": "unreviewed"},
    CHANGED: {"zh": "审核后已修改，待重新审核", "en": "changed since approval: unreviewed"},
}


_DIGESTS: dict[tuple[str, str], str] = {}  # (ruleset digest, rule id) -> rule digest; versions are immutable


def _document(ruleset: Ruleset) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: the same document, faster
    return yaml.load(ruleset.source, Loader=loader) or {}  # noqa: S506 - a safe loader


def rule_dependencies(ruleset: Ruleset, rule: Rule) -> dict[str, list[str]]:
    """The parameters, derived lists and computed fields (``list.field``) a rule reads."""
    nodes = [n for p in rule.patterns if p.where is not None for n in E.nodes(p.where)]
    nodes += [n for v in rule.details.values() for n in E.nodes(v)]
    nodes += [n for c in rule.consequences for v in c.values.values() for n in E.nodes(v)]
    params = sorted({n.name for n in nodes if isinstance(n, E.ParamRef)})
    derived = sorted({p.fact for p in rule.patterns if p.fact in ruleset.aggregates})
    facts_of = {p.alias: p.fact for p in rule.patterns}
    # an alias no pattern binds reads no list, so it can lead to no computed field
    read = {(fact, n.name) for n in nodes if isinstance(n, E.FieldRef) and (fact := facts_of.get(n.alias)) is not None}
    # and the computed fields those read (a later computed field may read an earlier one)
    computed = sorted(f"{c.list}.{c.field}" for c in computed_behind(ruleset.computed, read))
    for c in ruleset.computed:  # a computed field's own parameters count too
        if f"{c.list}.{c.field}" in computed:
            params = sorted(set(params) | {n.name for n in E.nodes(c.value) if isinstance(n, E.ParamRef)})
    return {"parameters": params, "derived": derived, "computed": computed}


def rule_digest(ruleset: Ruleset, rule: Rule) -> str:
    """sha256 of the rule's content and of the definitions it reads (formatting and comments ignored)."""
    key = (ruleset.digest, rule.id)
    if key not in _DIGESTS:  # every rule of the version at once: the file is parsed once, not once a rule
        doc = _document(ruleset)
        for r in ruleset.rules:
            _DIGESTS[(ruleset.digest, r.id)] = _rule_digest(ruleset, r, doc)
    return _DIGESTS[key]


def _rule_digest(ruleset: Ruleset, rule: Rule, doc: Mapping[str, Any]) -> str:
    own = next((r for r in doc.get("rules") or [] if isinstance(r, dict) and r.get("id") == rule.id), None)
    deps = rule_dependencies(ruleset, rule)
    params = doc.get("parameters") or {}
    derived = doc.get("derived") or {}
    computed = [
        c
        for c in doc.get("computed") or []
        if isinstance(c, dict) and f"{c.get('list')}.{c.get('field')}" in deps["computed"]
    ]
    content = {
        "ruleset": ruleset.id,
        "rule": own,
        "parameters": {n: params.get(n) for n in deps["parameters"]},
        "derived": {n: derived.get(n) for n in deps["derived"]},
        "computed": computed,
        "responsibility": doc.get("responsibility"),
    }
    if ruleset.batches and _reads_batches(ruleset, rule, deps):  # a batch's deadline changes what the rule finds
        content["batches"] = doc.get("batches")
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _reads_batches(ruleset: Ruleset, rule: Rule, deps: Mapping[str, list[str]]) -> bool:
    """Whether the rule reads a batch's figures or citations: directly, through a computed field, or from a derived list of a batch list."""
    nodes = [n for p in rule.patterns if p.where is not None for n in E.nodes(p.where)]
    nodes += [n for v in rule.details.values() for n in E.nodes(v)]
    nodes += [n for c in ruleset.computed if f"{c.list}.{c.field}" in deps["computed"] for n in E.nodes(c.value)]
    if rule.citation_entries or any(isinstance(n, E.FieldRef) and n.name in BATCH_FIELDS for n in nodes):
        return True  # (a rule citing a fact's batch cites what the batch lists)
    return any(ruleset.aggregates[name].source in BATCH_LISTS for name in deps["derived"])


def review_state(ruleset: Ruleset, rule: Rule, approvals: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Whether the rule as it stands in this version is approved, and by which sign-offs.

    ``approvals`` are the sign-offs of the same ruleset id and rule id in any version.  Those whose
    digest equals this version's stand (even if given on another version with the same content);
    if only older ones exist, the rule changed since it was approved.
    """
    digest = rule_digest(ruleset, rule)
    mine = [a for a in approvals if a["rule"] == rule.id]
    standing = [a for a in mine if a["rule_digest"] == digest]
    status = APPROVED if standing else CHANGED if mine else UNREVIEWED
    return {
        "status": status,
        "label": STATUS_LABELS[status],
        "rule_digest": digest,
        "approvals": standing,
        "earlier_approvals": [a for a in mine if a["rule_digest"] != digest],
    }


def in_force_digests(rulesets: Iterable[Ruleset]) -> set[str]:
    """The rule digests of versions that were in force: rules with these meanings need no new sign-off."""
    return {rule_digest(rs, rule) for rs in rulesets for rule in rs.rules}


def unsigned_changes(
    ruleset: Ruleset, known: set[str], approvals: Iterable[Mapping[str, Any]], author: str
) -> list[dict[str, str]]:
    """Maker-checker: the rules of ``ruleset`` whose meaning no version in force had (digest not in
    ``known``) and that no one but the version's ``author`` signed off as they now stand."""
    signed = {(a["rule"], a["rule_digest"]) for a in approvals if a["reviewer"] != author}
    out = []
    for rule in ruleset.rules:
        digest = rule_digest(ruleset, rule)
        if digest not in known and (rule.id, digest) not in signed:
            out.append({"rule": rule.id, "rule_digest": digest})
    return out


def standing_override(
    ruleset: Ruleset, rule: Rule, overrides: Iterable[Mapping[str, Any]], state: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The emergency override under which this rule, as it stands in this version, was activated unsigned;
    None once it is signed off (``state`` is its :func:`review_state`)."""
    if state.get("status") == APPROVED:
        return None
    digest = rule_digest(ruleset, rule)
    mine = [o for o in overrides if o["ruleset"] == ruleset.ref and o["rule"] == rule.id and o["rule_digest"] == digest]
    return mine[-1] if mine else None
