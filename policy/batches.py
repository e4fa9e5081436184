"""Quota batches: each batch of a year's quotas with its own notice, issue date, split deadline and totals.

Annual quotas come in batches, each issued by its own notice with its own deadline to split it (2023:
first batch 工信部联原〔2023〕23号, "ten working days"; third batch 〔2023〕245号 of 2023-12-14, "three
working days"). A ruleset lists its batches under ``batches:``; an allocation or a group quota that
names its ``batch`` (or only the ``notice`` that issued it) then carries that batch's figures as fields
a rule reads, so that a split is judged against its own batch's deadline:

- ``batch_notice``: the document number of the batch's notice;
- ``batch_issued_on``: the date the batch was issued;
- ``batch_split_working_days``: the working days the notice gives to split it;
- ``batch_split_due``: the last day to split it (the n-th official working day after the issue date);
- ``batch_total_t_reo``: the annual total the notice states for the fact's activity.

A fact whose batch is not named, is not one of the ruleset's, or whose ``batch`` and ``notice`` name
different batches, has none of them: its deadline is unknown and nothing is concluded from it (the
batch is never guessed, e.g. from the issue date). Those cases are reported as warnings.
"""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Mapping

from policy.facts import ACTIVITIES
from policy.functions import UnknownValue, add_working_days, parse_date
from policy.model import Batch

# The lists that may name a batch, and the fields a batch gives their facts (condition type, enum values).
BATCH_LISTS = ("allocations", "group_quotas")
BATCH_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
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
        label = ch.text(b, "label", what) or {}
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
