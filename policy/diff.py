"""What changed between two versions of a ruleset, in words a regulator reads: each change in Chinese and in
English (a page shows its reader's language, ``repolicy diff`` both, Chinese first).  Machine names (ids,
parameter names, eids, units, conditions) stay as written in both."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast
from collections.abc import Mapping

from policy import expr as E
from policy.labels import INSTRUMENT_STATUS, SEVERITY, Words, label
from policy.model import Parameter, Rule, Ruleset

OPEN = {"zh": "不限", "en": "open"}
NOT_SET = {"zh": "未设定", "en": "not set"}
NONE = {"zh": "无", "en": "none"}

# The parts of a rule compared (_rule_view), as a reader calls them.
RULE_PARTS: dict[str, Words] = {
    "title": {"zh": "标题", "en": "title"},
    "severity": {"zh": "严重程度", "en": "severity"},
    "when": {"zh": "条件", "en": "when"},
    "subject": {"zh": "责任主体", "en": "subject"},
    "period": {"zh": "期间", "en": "period"},
    "details": {"zh": "细节", "en": "details"},
    "message": {"zh": "提示", "en": "message"},
    "citations": {"zh": "引用", "en": "citations"},
    "consequences": {"zh": "法律后果", "en": "consequences"},
}

# The figures of a batch compared (_batch_view).
BATCH_PARTS: dict[str, Words] = {
    "notice": {"zh": "通知", "en": "notice"},
    "issued_on": {"zh": "下达日期", "en": "issued_on"},
    "split_working_days": {"zh": "分解期限（工作日）", "en": "split_working_days"},
    "totals": {"zh": "总量", "en": "totals"},
    "citations": {"zh": "引用", "en": "citations"},
}


def _line(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def _day(n: int | None, lang: str = "en") -> str:
    return dt.date.fromordinal(n).isoformat() if n else OPEN[lang]


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


def diff(old: Ruleset, new: Ruleset) -> list[dict[str, str]]:
    """What changed, one ``{"zh": ..., "en": ...}`` a change; empty when the two versions say the same."""
    lines: list[dict[str, str]] = []
    if old.id != new.id:
        lines.append(_line(f"规则集代码：{old.id} → {new.id}", f"Ruleset id: {old.id} -> {new.id}"))
    if (old.effective_from, old.effective_to) != (new.effective_from, new.effective_to):
        lines.append(
            _line(
                f"有效期间：{_day(old.effective_from, 'zh')} 至 {_day(old.effective_to, 'zh')} → "
                f"{_day(new.effective_from, 'zh')} 至 {_day(new.effective_to, 'zh')}",
                f"Effective period: {_day(old.effective_from)} to {_day(old.effective_to)} -> "
                f"{_day(new.effective_from)} to {_day(new.effective_to)}",
            )
        )
    if old.instrument != new.instrument:
        was, now = old.instrument_status, new.instrument_status
        lines.append(
            _line(
                f"依据文件：{old.instrument}（{label(INSTRUMENT_STATUS, was, 'zh')}）→ "
                f"{new.instrument}（{label(INSTRUMENT_STATUS, now, 'zh')}）",
                f"Instrument: {old.instrument} ({was}) -> {new.instrument} ({now})",
            )
        )
    if old.status != new.status:
        lines.append(_line(f"申请状态：{old.status} → {new.status}", f"Requested status: {old.status} -> {new.status}"))
    lines += _parameter_changes(old, new)
    lines += _batch_changes(old, new)
    for name in sorted(set(old.aggregates) | set(new.aggregates)):
        if old.aggregates.get(name) != new.aggregates.get(name):
            verb = "added" if name not in old.aggregates else "removed" if name not in new.aggregates else "changed"
            lines.append(_line(f"派生事实{_VERB_ZH[verb]}：{name}", f"Derived facts {verb}: {name}"))
    old_c = {(c.list, c.field): c for c in old.computed}
    new_c = {(c.list, c.field): c for c in new.computed}
    for key in sorted(set(old_c) | set(new_c)):
        ca, cb = old_c.get(key), new_c.get(key)
        if ca is None or cb is None or E.to_text(ca.value) != E.to_text(cb.value):
            verb = "added" if ca is None else "removed" if cb is None else "changed"
            value = f" = {E.to_text(cb.value)}" if cb is not None else ""
            lines.append(
                _line(
                    f"计算字段{_VERB_ZH[verb]}：{key[0]}.{key[1]}{value}",
                    f"Computed field {verb}: {key[0]}.{key[1]}{value}",
                )
            )
    return lines + _rule_changes(old, new)


_VERB_ZH = {"added": "新增", "removed": "删除", "changed": "变更"}


def _parameter_changes(old: Ruleset, new: Ruleset) -> list[dict[str, str]]:
    lines = []
    for name in sorted(set(old.parameters) | set(new.parameters)):
        a, b = old.parameters.get(name), new.parameters.get(name)
        if a is None:
            added = cast(Parameter, b)  # the name is in the old or the new parameters, and not in the old
            value, cites = f"{_param_value(added)} {added.unit or ''}", _cites(added.citations)
            lines.append(
                _line(
                    f"新增参数：{name} = {value}（引用 {cites}）", f"Parameter added: {name} = {value} (cites {cites})"
                )
            )
        elif b is None:
            was = _param_value(a)
            lines.append(_line(f"删除参数：{name}（原为 {was}）", f"Parameter removed: {name} (was {was})"))
        else:
            if a.value != b.value:
                was, now, unit = _param_value(a), _param_value(b), b.unit or ""
                lines.append(
                    _line(
                        f"参数变更：{name} {was} → {now} {unit}".rstrip(),
                        f"Parameter changed: {name} {was} -> {now} {unit}".rstrip(),
                    )
                )
            if a.citations != b.citations:
                was, now = _cites(a.citations), _cites(b.citations)
                lines.append(_line(f"参数 {name} 的引用：{was} → {now}", f"Parameter {name} citations: {was} -> {now}"))
    return lines


def _rule_changes(old: Ruleset, new: Ruleset) -> list[dict[str, str]]:
    lines = []
    old_r = {r.id: r for r in old.rules}
    new_r = {r.id: r for r in new.rules}
    for rid in new_r.keys() - old_r.keys():
        r, cites = new_r[rid], _cites(new_r[rid].citations)
        lines.append(
            _line(
                f"新增规则：{rid}（{r.title['zh']}；{label(SEVERITY, r.severity, 'zh')}；引用 {cites}）",
                f"Rule added: {rid} ({r.title['en']}; {r.severity}; cites {cites})",
            )
        )
    for rid in old_r.keys() - new_r.keys():
        lines.append(
            _line(f"删除规则：{rid}（{old_r[rid].title['zh']}）", f"Rule removed: {rid} ({old_r[rid].title['en']})")
        )
    for rid in sorted(old_r.keys() & new_r.keys()):
        ra, rb = _rule_view(old_r[rid]), _rule_view(new_r[rid])
        for part in ra:
            if ra[part] != rb[part]:
                was, now = ra[part], rb[part]
                if part == "severity":
                    was_zh, now_zh = label(SEVERITY, was, "zh"), label(SEVERITY, now, "zh")
                else:
                    was_zh, now_zh = was, now
                lines.append(
                    _line(
                        f"规则 {rid} 的{RULE_PARTS[part]['zh']}变更：\n    原为：{was_zh}\n    现为：{now_zh}",
                        f"Rule {rid}: {part} changed:\n    before: {was}\n    after:  {now}",
                    )
                )
    return lines


def _batch_view(batch: Any, lang: str = "en") -> dict[str, str]:
    return {
        "notice": str(batch.notice),
        "issued_on": _day(batch.issued_on) if batch.issued_on else NOT_SET[lang],
        "split_working_days": str(batch.split_working_days) if batch.split_working_days is not None else NOT_SET[lang],
        "totals": ", ".join(f"{k} {v}" for k, v in sorted(batch.totals.items())) or NONE[lang],
        "citations": _cites(batch.citations),
    }


def _batch_changes(old: Ruleset, new: Ruleset) -> list[dict[str, str]]:
    """Batches added, removed, and each changed figure of a batch (its notice, date, deadline, totals, citations)."""
    lines = []
    for bid in sorted(set(old.batches) | set(new.batches)):
        a, b = old.batches.get(bid), new.batches.get(bid)
        if a is None:
            en, zh = _batch_view(b), _batch_view(b, "zh")
            lines.append(
                _line(
                    f"新增批次：{bid}（{zh['notice']}，下达日期 {zh['issued_on']}，"
                    f"分解期限 {zh['split_working_days']} 个工作日）",
                    f"Batch added: {bid} ({en['notice']}, issued {en['issued_on']}, "
                    f"{en['split_working_days']} working days to split)",
                )
            )
        elif b is None:
            lines.append(_line(f"删除批次：{bid}", f"Batch removed: {bid}"))
        else:
            va, vb = _batch_view(a), _batch_view(b)
            za, zb = _batch_view(a, "zh"), _batch_view(b, "zh")
            lines += [
                _line(
                    f"批次 {bid} 的{BATCH_PARTS[key]['zh']}：{za[key]} → {zb[key]}",
                    f"Batch {bid} {key}: {va[key]} -> {vb[key]}",
                )
                for key in va
                if va[key] != vb[key]
            ]
    return lines


def bilingual(line: Mapping[str, str]) -> str:
    """One change for a reader of either language (``repolicy diff``): the Chinese, then the English."""
    return f"{line['zh']}\n  {line['en']}"
