"""What changed between two versions of a ruleset, in words a regulator reads."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from policy import expr as E
from policy.model import Parameter, Rule, Ruleset


def _day(n: int | None) -> str:
    return dt.date.fromordinal(n).isoformat() if n else "open"


def _param_value(p) -> str:
    return dt.date.fromordinal(p.value).isoformat() if p.type == "date" else f"{p.value}"


def _cites(items) -> str:
    return ", ".join(f"{c.instrument} {c.eid}" for c in items)


def _rule_view(rule: Rule) -> dict[str, Any]:
    """The parts of a rule a reviewer compares, as text."""
    return {
        "title": f"{rule.title['zh']} / {rule.title['en']}",
        "severity": rule.severity,
        "when": "; ".join(
            f"{'no ' if p.negated else ''}{p.fact} as {p.alias}"
            + (f" where {E.to_text(p.where)}" if p.where is not None else "")
            for p in rule.patterns
        ),
        "subject": f"{rule.subject_type if isinstance(rule.subject_type, str) else E.to_text(rule.subject_type)} "
        f"{E.to_text(rule.subject_id)}",
        "period": E.to_text(rule.period) if rule.period is not None else "none",
        "details": ", ".join(f"{k} = {E.to_text(v)}" for k, v in rule.details.items()),
        "message": f"{rule.message['zh']} / {rule.message['en']}",
        "citations": _cites(rule.citations),
        "consequences": "; ".join(
            f"{c.type} ({c.citation.instrument} {c.citation.eid})"
            + "".join(f", {k} = {E.to_text(v)}" for k, v in c.values.items())
            for c in rule.consequences
        ),
    }


def diff(old: Ruleset, new: Ruleset) -> list[str]:
    """Human-readable lines; empty when the two versions say the same."""
    lines: list[str] = []
    if old.id != new.id:
        lines.append(f"Ruleset id: {old.id} -> {new.id}")
    if (old.effective_from, old.effective_to) != (new.effective_from, new.effective_to):
        lines.append(
            f"Effective period: {_day(old.effective_from)} to {_day(old.effective_to)} -> "
            f"{_day(new.effective_from)} to {_day(new.effective_to)}"
        )
    if old.instrument != new.instrument:
        lines.append(
            f"Instrument: {old.instrument} ({old.instrument_status}) -> {new.instrument} ({new.instrument_status})"
        )
    if old.status != new.status:
        lines.append(f"Requested status: {old.status} -> {new.status}")
    for name in sorted(set(old.parameters) | set(new.parameters)):
        a, b = old.parameters.get(name), new.parameters.get(name)
        if a is None:
            added = cast(Parameter, b)  # the name is in the old or the new parameters, and not in the old
            lines.append(
                f"Parameter added: {name} = {_param_value(added)} {added.unit or ''} (cites {_cites(added.citations)})"
            )
        elif b is None:
            lines.append(f"Parameter removed: {name} (was {_param_value(a)})")
        else:
            if a.value != b.value:
                lines.append(
                    f"Parameter changed: {name} {_param_value(a)} -> {_param_value(b)} {b.unit or ''}".rstrip()
                )
            if a.citations != b.citations:
                lines.append(f"Parameter {name} citations: {_cites(a.citations)} -> {_cites(b.citations)}")
    lines += _batch_changes(old, new)
    for name in sorted(set(old.aggregates) | set(new.aggregates)):
        if old.aggregates.get(name) != new.aggregates.get(name):
            verb = "added" if name not in old.aggregates else "removed" if name not in new.aggregates else "changed"
            lines.append(f"Derived facts {verb}: {name}")
    old_c = {(c.list, c.field): c for c in old.computed}
    new_c = {(c.list, c.field): c for c in new.computed}
    for key in sorted(set(old_c) | set(new_c)):
        ca, cb = old_c.get(key), new_c.get(key)
        if ca is None or cb is None or E.to_text(ca.value) != E.to_text(cb.value):
            verb = "added" if ca is None else "removed" if cb is None else "changed"
            lines.append(
                f"Computed field {verb}: {key[0]}.{key[1]}" + (f" = {E.to_text(cb.value)}" if cb is not None else "")
            )
    old_r = {r.id: r for r in old.rules}
    new_r = {r.id: r for r in new.rules}
    for rid in new_r.keys() - old_r.keys():
        lines.append(
            f"Rule added: {rid} ({new_r[rid].title['en']}; {new_r[rid].severity}; cites {_cites(new_r[rid].citations)})"
        )
    for rid in old_r.keys() - new_r.keys():
        lines.append(f"Rule removed: {rid} ({old_r[rid].title['en']})")
    for rid in sorted(old_r.keys() & new_r.keys()):
        ra, rb = _rule_view(old_r[rid]), _rule_view(new_r[rid])
        for part in ra:
            if ra[part] != rb[part]:
                lines.append(f"Rule {rid}: {part} changed:\n    before: {ra[part]}\n    after:  {rb[part]}")
    return lines


def _batch_view(batch: Any) -> dict[str, str]:
    return {
        "notice": str(batch.notice),
        "issued_on": _day(batch.issued_on) if batch.issued_on else "not set",
        "split_working_days": str(batch.split_working_days) if batch.split_working_days is not None else "not set",
        "totals": ", ".join(f"{k} {v}" for k, v in sorted(batch.totals.items())) or "none",
        "citations": _cites(batch.citations),
    }


def _batch_changes(old: Ruleset, new: Ruleset) -> list[str]:
    """Batches added, removed, and each changed figure of a batch (its notice, date, deadline, totals, citations)."""
    lines = []
    for bid in sorted(set(old.batches) | set(new.batches)):
        a, b = old.batches.get(bid), new.batches.get(bid)
        if a is None:
            view = _batch_view(b)
            lines.append(
                f"Batch added: {bid} ({view['notice']}, issued {view['issued_on']}, "
                f"{view['split_working_days']} working days to split)"
            )
        elif b is None:
            lines.append(f"Batch removed: {bid}")
        else:
            va, vb = _batch_view(a), _batch_view(b)
            lines += [f"Batch {bid} {key}: {va[key]} -> {vb[key]}" for key in va if va[key] != vb[key]]
    return lines
