"""Quota batches: each batch of a year's quotas with its own notice, issue date, split deadline and totals.

Annual quotas come in batches, each issued by its own notice with its own deadline to split it (2023:
first batch 工信部联原〔2023〕23号, "ten working days"; third batch 〔2023〕245号 of 2023-12-14, "three
working days"). A ruleset lists its batches under ``batches:``; an allocation or a group quota that
names its ``batch`` (or only the ``notice`` that issued it) then carries that batch's figures as fields
a rule reads, so that a split is judged against its own batch's deadline:

- ``batch_id``: the batch's id (also when the fact names only the notice), to group facts by batch;
- ``batch_notice``: the document number of the batch's notice;
- ``batch_issued_on``: the date the batch was issued;
- ``batch_split_working_days``: the working days the notice gives to split it;
- ``batch_split_due``: the last day to split it (the n-th official working day after the issue date);
- ``batch_total_t_reo``: the annual total the notice states for the fact's activity.

A fact whose batch is not named, is not one of the ruleset's, or whose ``batch`` and ``notice`` name different batches, has none of them: its deadline is unknown and nothing is
concluded from it (the batch is never guessed, e.g. from the issue date). Those cases are reported as warnings.

A rule cites a finding's own batch with the citation entry ``{batch_of: alias}`` (optionally ``eid:`` to take
only that provision of the batch's citations): :func:`rule_citations` checks it at load and
:func:`finding_citations` resolves it per finding, so a late split of the third batch cites the third batch's
notice only.
"""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

from policy.facts import ACTIVITIES
from policy.functions import UnknownValue, add_working_days, parse_date
from policy.model import Batch, BatchCitation, Citation, Pattern

# The lists that may name a batch, and the fields a batch gives their facts (condition type, enum values).
BATCH_LISTS = ("allocations", "group_quotas")
BATCH_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "batch_id": ("string", ()),
    "batch_notice": ("string", ()),
    "batch_issued_on": ("date", ()),
    "batch_split_working_days": ("number", ()),
    "batch_split_due": ("date", ()),
    "batch_total_t_reo": ("number", ()),
}
MAX_SPLIT_WORKING_DAYS = 366
BATCH_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")


def parse_batches(ch: Any, top: Mapping[str, Any]) -> tuple[dict[str, Batch], list[tuple[Any, str, str | None]]]:
    """The ``batches:`` of a ruleset, checked with the loader's checker ``ch``; and warnings (location, message, hint).

    A batch whose issue date or working days are left ``null`` is accepted with a warning: its split
    deadline is unknown, so no split of it is judged late.
    """
    out: dict[str, Batch] = {}
    warnings: list[tuple[Any, str, str | None]] = []
    items = top.get("batches")
    if items is None:
        return out, warnings
    if not isinstance(items, dict) or not items:
        ch.add(
            ch.where(top, "batches"),
            "`batches` must be a mapping of batch id: {label, notice, issued_on, "
            "split_working_days, totals, citations}",
        )
        return out, warnings
    for key, body in items.items():
        loc = ch.where(items, key)
        bid = str(key)
        if not BATCH_ID_RE.match(bid):
            ch.add(
                loc,
                f"batch id {key!r} must be lower-case letters, digits, . _ -",
                'quote it, e.g. "2023-3"; facts name it in `batch`',
            )
            continue
        b = ch.mapping(body, f"batch `{bid}`", loc)
        if b is None:
            continue
        what = f"batch `{bid}`"
        ch.keys(b, what, ("label", "issued_on", "split_working_days", "citations"), ("notice", "totals", "note"))
        label = ch.text(b, "label", what, required=True) or {}
        note = ch.text(b, "note", what)
        notice = b.get("notice")
        if notice is not None and (not isinstance(notice, str) or not notice.strip()):
            ch.add(b.where("notice"), f"{what}: `notice` must be the notice's document number as text")
            notice = None
        issued_on = None
        if b.get("issued_on") is None:
            if "issued_on" in b:
                warnings.append(
                    (
                        b.where("issued_on"),
                        f"{what} has no issue date (issued_on: null): its split "
                        "deadline is unknown and no split of it is judged late",
                        "give the date the notice bears, YYYY-MM-DD",
                    )
                )
        else:
            try:
                issued_on = parse_date(str(b["issued_on"]))
            except ValueError:
                ch.add(b.where("issued_on"), f"{what}: `issued_on` must be a date YYYY-MM-DD, not {b['issued_on']!r}")
        days = b.get("split_working_days")
        if days is None:
            if "split_working_days" in b:
                warnings.append(
                    (
                        b.where("split_working_days"),
                        f"{what} has no split deadline (split_working_days: null): no split of it is judged late",
                        "give the working days the notice allows (e.g. 3 for “3个工作日内”)",
                    )
                )
        elif isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_SPLIT_WORKING_DAYS:
            ch.add(
                b.where("split_working_days"),
                f"{what}: `split_working_days` must be a whole number of "
                f"working days from 0 to {MAX_SPLIT_WORKING_DAYS}, not {days!r}",
            )
            days = None
        totals: dict[str, float] = {}
        raw_totals = b.get("totals")
        if raw_totals is not None:
            t = ch.mapping(raw_totals, f"{what} `totals`", b.where("totals"))
            for activity, amount in (t or {}).items():
                if activity not in ACTIVITIES:
                    ch.add(
                        t.where(activity),
                        f"{what}: unknown activity `{activity}` in `totals`",
                        f"activities: {', '.join(ACTIVITIES)}",
                    )
                elif isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
                    ch.add(
                        t.where(activity),
                        f"{what}: the total of `{activity}` must be a number of t REO, not {amount!r}",
                    )
                else:
                    totals[activity] = amount
        citations = ch.citations(b, "citations")
        out[bid] = Batch(bid, label, notice, issued_on, days, totals, citations, note)
    notices: dict[str, str] = {}
    for batch in out.values():
        if batch.notice is not None and batch.notice in notices:
            ch.add(
                ch.where(items, batch.id),
                f"batches `{notices[batch.notice]}` and `{batch.id}` name the same notice {batch.notice}",
                "each batch is issued by its own notice",
            )
        elif batch.notice is not None:
            notices[batch.notice] = batch.id
    return out, warnings


def split_due(batch: Batch) -> int:
    """The batch's split deadline (day number); UnknownValue when not known or beyond the official calendar."""
    if batch.issued_on is None or batch.split_working_days is None:
        raise UnknownValue(f"batch {batch.id} has no issue date or split deadline")
    return add_working_days(batch.issued_on, batch.split_working_days)


def batch_of(batches: Mapping[str, Batch], fact: Mapping[str, Any]) -> tuple[Batch | None, dict | None]:
    """The batch a prepared fact names (by ``batch``, else by the ``notice`` that issued it), and a warning.

    (None, None) for a fact that names neither; (None, warning) when what it names is not one batch of the
    ruleset's.
    """
    name, notice = fact.get("batch"), fact.get("notice")
    if name is None and notice is None:
        return None, None
    if name is not None:
        batch = batches.get(name)
        if batch is None:
            return None, _warning(
                "batch_not_defined",
                name,
                f"批次“{name}”不在规则集的批次中，相关期限未知",
                f"Batch '{name}' is not one of the ruleset's batches; its deadlines are unknown",
            )
        if notice is not None and batch.notice is not None and notice != batch.notice:
            return None, _warning(
                "batch_notice_mismatch",
                name,
                f"批次“{name}”由{batch.notice}下达，与事实所列文号{notice}不符，相关期限未知",
                f"Batch '{name}' was issued by {batch.notice}, not by {notice} as the fact says; "
                f"its deadlines are unknown",
            )
        return batch, None
    named = [b for b in batches.values() if b.notice == notice]
    if len(named) == 1:
        return named[0], None
    return None, _warning(
        "batch_not_defined",
        notice,
        f"文号{notice}不是规则集任一批次的通知，相关期限未知",
        f"No batch of the ruleset was issued by {notice}; its deadlines are unknown",
    )


def _warning(code: str, batch: str | None, zh: str, en: str) -> dict:
    return {"code": code, "batch": batch, "message": {"zh": zh, "en": en}}


def batch_values(batch: Batch, fact: Mapping[str, Any]) -> tuple[dict[str, Any], dict | None]:
    """The batch fields of one fact of that batch (only the known ones), and a calendar warning if any."""
    values: dict[str, Any] = {
        "batch_id": batch.id,  # also for a fact naming only the notice: derived lists group by it
        "batch_split_working_days": batch.split_working_days,
        "batch_issued_on": batch.issued_on,
        "batch_notice": batch.notice,
        "batch_total_t_reo": batch.totals.get(str(fact.get("activity"))),
    }
    warning = None
    try:
        values["batch_split_due"] = split_due(batch)
    except UnknownValue as exc:
        warning = exc.warning
    return {k: v for k, v in values.items() if v is not None}, warning


def rule_citations(
    ch: Any,
    raw: Any,
    fixed: tuple[Citation, ...],
    patterns: Sequence[Pattern],
    fact_fields: Mapping[str, Mapping[str, Any]],
) -> tuple[tuple[Citation, ...], tuple[Citation | BatchCitation, ...]]:
    """A rule's citations with its ``{batch_of: alias[, eid]}`` entries checked with the loader's checker ``ch``.

    Returns every provision a finding of the rule may cite (the fixed citations and, for each batch entry,
    each batch's), and the entries in their order (empty when the rule has no batch entry: every finding
    then cites ``fixed``).  An entry is refused when the ruleset has no batches, the alias is no fact of
    the rule's ``when``, that fact names no batch, or a batch cites no provision ``eid``.
    """
    if not isinstance(raw, list) or not any(isinstance(i, dict) and "batch_of" in i for i in raw):
        return fixed, ()
    bound = {p.alias: p for p in patterns if not p.negated}
    entries: list[Citation | BatchCitation] = []
    rest = iter(fixed)
    for i, item in enumerate(raw):
        if not (isinstance(item, dict) and "batch_of" in item):
            entries.extend(c for c in [next(rest, None)] if c is not None)
            continue
        loc = ch.where(raw, i)
        ch.keys(item, "a batch citation", ("batch_of",), ("eid",))
        alias, eid = item.get("batch_of"), item.get("eid")
        if not ch.batches:
            ch.add(loc, "`batch_of` cites the batch of a fact, but the ruleset has no `batches`", "docs/rules.md §2")
            continue
        if not isinstance(alias, str) or alias not in bound:
            ch.add(
                ch.where(item, "batch_of"),
                f"`batch_of: {alias}` names no fact of the rule's `when`",
                f"aliases: {', '.join(bound) or 'none'}",
            )
            continue
        pattern = bound[alias]
        if not {"batch", "notice", "batch_id"} & set(fact_fields.get(pattern.fact, {})):
            ch.add(
                ch.where(item, "batch_of"),
                f"facts `{pattern.fact}` (`{alias}`) name no batch",
                f"cite the batch of {' or '.join(BATCH_LISTS)}, or of a derived list grouped by `batch_id`",
            )
            continue
        if eid is not None and not isinstance(eid, str):
            ch.add(ch.where(item, "eid"), "`eid` must be the provision id, e.g. para_2")
            continue
        # (a batch whose own citations failed to load is reported there already)
        lacking = [b.id for b in ch.batches.values() if b.citations and not cited_by(b, BatchCitation(alias, eid))]
        if lacking:
            ch.add(
                ch.where(item, "eid"),
                f"batch `{lacking[0]}` cites no provision `{eid}`: a finding of it would cite nothing from this entry",
                "add the provision to that batch's `citations`, or drop `eid` to cite all of them",
            )
            continue
        entries.append(BatchCitation(alias, eid))
    return _expand(ch.batches, entries, None), tuple(entries)


def finding_citations(
    batches: Mapping[str, Batch],
    entries: Sequence[Citation | BatchCitation],
    bindings: Iterable[Mapping[str, Mapping[str, Any]]],
) -> tuple[Citation, ...]:
    """What one finding cites: its rule's fixed citations and, for each ``batch_of`` entry, the citations of the
    batches its matches' facts name (each once, in the ruleset's order of batches).

    A fact whose batch is not known makes the entry cite every batch's provisions, as the rule's page lists
    them: the finding never cites nothing, and never a batch it is not of when every batch is known.
    """
    named: dict[str, set[str] | None] = {}  # alias -> the batch ids named; None: some fact names no known batch
    for e in entries:
        if isinstance(e, BatchCitation) and e.alias not in named:
            named[e.alias] = set()
    for match in bindings:
        for alias, ids in named.items():
            if ids is not None:
                batch = _named_batch(batches, match[alias])
                if batch is None:
                    named[alias] = None
                else:
                    ids.add(batch.id)
    return _expand(batches, entries, named)


def _named_batch(batches: Mapping[str, Batch], fact: Mapping[str, Any]) -> Batch | None:
    """The batch of a matched fact: by its ``batch_id`` (a prepared fact, a derived row), else as it names it."""
    if "batch_id" in fact:
        return batches.get(fact["batch_id"])
    return batch_of(batches, fact)[0]


def _expand(
    batches: Mapping[str, Batch],
    entries: Sequence[Citation | BatchCitation],
    named: Mapping[str, set[str] | None] | None,
) -> tuple[Citation, ...]:
    """The entries' citations, each once and in order; a batch entry gives the named batches' (all: ``None``)."""
    out: dict[Citation, None] = {}
    for e in entries:
        if isinstance(e, Citation):
            out[e] = None
            continue
        ids = None if named is None else named.get(e.alias)
        for batch in batches.values():
            if ids is None or batch.id in ids:
                out.update((c, None) for c in cited_by(batch, e))
    return tuple(out)


def cited_by(batch: Batch, entry: BatchCitation) -> tuple[Citation, ...]:
    """What a ``batch_of`` entry cites for a fact of ``batch``: the batch's citations (of provision ``eid`` only)."""
    return tuple(c for c in batch.citations if entry.eid is None or c.eid == entry.eid)
