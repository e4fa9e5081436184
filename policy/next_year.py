"""Next year's notice from last year's: a draft ruleset, an instrument skeleton and the scenarios, moved on.

Annual quota notices repeat their structure; their figures, dates and text change.  So the draft keeps
the rules, conditions, comments and layout of last year's ruleset (edited in place with round-trip YAML,
``ruamel.yaml``; loading stays on PyYAML), moves its period, version, instrument and every year-bearing
text or date on by the years between, and **leaves unset** (``value: null``, last year's value in a
comment) every parameter that cites the notice itself: those are the figures and dates the new notice
gives, which only a person reading it may enter.  Validation then lists each one with its file and line.

The instrument skeleton has last year's structure (eids, kinds, labels) and no text
(``text_available: false``): the regulator pastes the new text in, provision by provision.  Scenarios
pinned to last year's version are moved by the same years and pinned to the draft; dates moved by a
year fall on other weekdays, so each expectation is to be checked against the new text.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from policy.instruments import Instrument
from policy.model import Ruleset


@dataclass
class UnsetParameter:
    """A parameter the regulator must set from the new notice."""

    name: str
    previous: Any  # last year's value, as written
    cites: list[str]  # eids of the new instrument it cites


@dataclass
class Draft:
    """What :func:`draft_next_year` wrote."""

    ruleset: Path
    instrument: Path
    scenarios: list[Path] = field(default_factory=list)
    unset: list[UnsetParameter] = field(default_factory=list)
    ref: str = ""
    instrument_id: str = ""
    # every instrument skeleton written: the ruleset's own, then each other notice of the year it cites
    # (a year's quotas issued in batches have one notice per batch)
    instruments: list[Path] = field(default_factory=list)


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never fold a long line of law text
    y.indent(mapping=2, sequence=4, offset=2)
    y.representer.add_representer(type(None), lambda r, _d: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


class _Mover:
    """Moves every year-bearing value of a document on by ``delta`` years, in place."""

    def __init__(self, source_year: int, year: int, renames: dict[str, str], neighbours: bool = False):
        self.source_year, self.year = source_year, year
        self.renames = renames  # whole values replaced first (instrument ids, ruleset refs)
        # ``neighbours``: the years either side move too (a December report falls due next January)
        self.years = {source_year + d for d in ((-1, 0, 1) if neighbours else (0,))}
        self._year_re = re.compile(rf"(?<!\d)(?:{'|'.join(map(str, sorted(self.years)))})(?!\d)")

    def text(self, value: str) -> str:
        if value in self.renames:
            return self.renames[value]
        return self._year_re.sub(lambda m: str(int(m.group(0)) + self.year - self.source_year), value)

    def move(self, node: Any) -> Any:
        if isinstance(node, CommentedMap):
            for key in list(node):
                node[key] = self.move(node[key])
            return node
        if isinstance(node, CommentedSeq):
            for i, item in enumerate(node):
                node[i] = self.move(item)
            return node
        if isinstance(node, bool):
            return node
        if isinstance(node, int) and node in self.years:
            return type(node)(node + self.year - self.source_year)  # keeps ruamel's integer style
        if isinstance(node, str):
            moved = self.text(str(node))
            if moved == str(node):
                return node
            try:
                out = type(node)(moved)  # keep the scalar's style (quoted, literal or folded block)
            except TypeError:
                return moved
            for attr in ("fold_pos", "comment"):  # where a folded text breaks: same places (same length)
                if hasattr(node, attr) and len(moved) == len(str(node)):
                    setattr(out, attr, getattr(node, attr))
            return out
        return node


def next_instrument_id(instrument_id: str, source_year: int, year: int) -> str:
    """``notice-2021`` -> ``notice-2022``; an id without the year gets it appended."""
    moved = re.sub(rf"(?<!\d){source_year}(?!\d)", str(year), instrument_id)
    return moved if moved != instrument_id else f"{instrument_id}-{year}"


def _skeleton(instrument: Instrument, new_id: str, mover: _Mover) -> CommentedMap:
    """The instrument's structure (eids, kinds, labels) without text, for the new year's notice."""

    def bilingual(value: dict[str, str]) -> CommentedMap:
        m = CommentedMap((k, mover.text(value[k])) for k in ("zh", "en"))
        m.fa.set_flow_style()
        return m

    def node(eid: str) -> CommentedMap:
        p = instrument.provisions[eid]
        out = CommentedMap([("eid", p.eid), ("kind", p.kind), ("label", bilingual(p.label))])
        if p.children:
            out["children"] = CommentedSeq(node(c) for c in p.children)
        return out

    doc = CommentedMap()
    doc["id"] = new_id
    doc["title"] = bilingual(instrument.title)
    doc["short_title"] = bilingual(instrument.short_title)
    doc["issuer"] = bilingual(instrument.issuer)
    doc["document_number"] = None
    doc["date"] = None
    doc["status"] = "draft"
    doc["complete"] = False
    doc["source"] = "where the text is taken from (the ministry's page or the gazette)"
    doc["text_available"] = False
    notes = CommentedMap(
        [  # names last year's instrument: not moved on
            (
                "zh",
                f"按{instrument.short_title['zh']}（{instrument.id}）的结构生成的骨架：请填入新通知的文号、日期、来源和"
                f"各条文本（text，逐字），删除 text_available 一行，并按新通知调整条款。",
            ),
            (
                "en",
                f"Skeleton with the structure of {instrument.short_title['en']} ({instrument.id}): enter the new "
                f"notice's number, date, source and each provision's text (verbatim), remove the text_available "
                f"line, and adjust the provisions to the new notice.",
            ),
        ]
    )
    doc["notes"] = notes
    doc["provisions"] = CommentedSeq(node(p.eid) for p in instrument.articles())
    doc.yaml_set_start_comment(
        f"Instrument skeleton for {new_id}, written by `repolicy new-notice` from {instrument.id}.\n"
        "Format: docs/instruments.md.  Until the text is entered, citations of it say the text is not available."
    )
    return doc


def _unset_parameters(doc: CommentedMap, notices: set[str], ruleset: Ruleset, source_year: int) -> list[UnsetParameter]:
    """Set to null, with last year's value in a comment, every parameter citing one of the year's notices
    (``notices``: their ids, last year's and the new)."""
    unset = []
    for name, body in (doc.get("parameters") or {}).items():
        cites = [c for c in body.get("citations") or [] if c.get("instrument") in notices]
        if not cites:
            continue
        parameter = ruleset.parameters.get(name)
        if "type" not in body and parameter is not None:
            body.insert(list(body).index("value") + 1, "type", parameter.type)  # its uses are still type-checked
        unset.append(_unset(body, "value", name, [c.get("eid") for c in cites], source_year))
    return unset


def _unset(mapping: CommentedMap, key: str, name: str, cites: list[str], source_year: int) -> UnsetParameter:
    """Set ``mapping[key]`` to null, last year's value in a comment beside it, and say what is to be set."""
    previous = mapping[key]
    mapping[key] = None
    shown = "not known" if previous is None else previous
    mapping.yaml_add_eol_comment(f"SET from the new notice; {source_year}: {shown}", key)
    return UnsetParameter(name, previous, cites)


def _cited_instruments(node: Any) -> list[str]:
    """Every instrument id the document cites (``instrument:`` anywhere), in the order first written."""
    out: list[str] = []
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            if key == "instrument" and isinstance(value, str):
                out.append(value)
            else:
                out += _cited_instruments(value)
    elif isinstance(node, CommentedSeq):
        for item in node:
            out += _cited_instruments(item)
    return list(dict.fromkeys(out))


def _year_notices(doc: CommentedMap, instrument: Instrument, instruments: Mapping[str, Instrument], year: int) -> list:
    """The notices of the ruleset's year: its own instrument, and every other instrument it cites whose id
    bears the year (``notice-2023-3`` beside ``notice-2023-1``: the batches' notices). The Measures and the
    Regulation it may also cite are standing law, cited as they are."""
    bears_year = re.compile(rf"(?<!\d){year}(?!\d)")
    others = [
        instruments[i]
        for i in _cited_instruments(doc)
        if i != instrument.id and i in instruments and bears_year.search(i)
    ]
    return [instrument, *others]


def _unset_batches(doc: CommentedMap, mover: _Mover, source_year: int) -> list[UnsetParameter]:
    """Each batch of the new year: its id moved on (``2023-3`` -> ``2024-3``, as the moved scenarios name it),
    and the figures only its own notice gives (document number, issue date, working days to split, totals)
    set to null with last year's value in a comment. A null date or deadline is a warning of the loader, a
    null total an error: validation names each line until it is set."""
    batches = doc.get("batches")
    if not isinstance(batches, CommentedMap):
        return []
    unset = []
    for position, old_id in enumerate(list(batches)):
        new_id = mover.text(str(old_id))
        body = batches.pop(old_id)
        batches.insert(position, type(old_id)(new_id) if isinstance(old_id, str) else new_id, body)  # same quotes
        if not isinstance(body, CommentedMap):
            continue
        cites = [c.get("eid") for c in body.get("citations") or [] if isinstance(c, CommentedMap)]
        for key in ("notice", "issued_on", "split_working_days"):
            if key in body:  # a date not known last year is to be set all the same
                unset.append(_unset(body, key, f"batches.{new_id}.{key}", cites, source_year))
        totals = body.get("totals")
        if isinstance(totals, CommentedMap):
            totals.fa.set_block_style()  # one line, and its comment, per activity
            for activity in list(totals):
                unset.append(_unset(totals, activity, f"batches.{new_id}.totals.{activity}", cites, source_year))
    return unset


def draft_next_year(
    ruleset: Ruleset,
    instrument: Instrument,
    scenario_texts: dict[str, str],
    year: int,
    out_dir: Path,
    instruments: Mapping[str, Instrument] | None = None,
) -> Draft:
    """Write the draft ruleset, the instrument skeletons and the moved scenarios into ``out_dir``.

    ``instruments`` (all registered) lets the draft find the year's other notices the ruleset cites, each
    given a skeleton of its own; without it only ``instrument`` is moved on.
    """
    if ruleset.effective_from is None:
        raise ValueError(f"{ruleset.ref} has no effective period: its year cannot be told")
    source_year = dt.date.fromordinal(ruleset.effective_from).year
    if year <= source_year:
        raise ValueError(f"{ruleset.ref} is for {source_year}: the new year must come after it")
    y = _yaml()
    doc = y.load(ruleset.source)
    notices = _year_notices(doc, instrument, instruments or {}, source_year)
    renames = {n.id: next_instrument_id(n.id, source_year, year) for n in notices}
    new_instrument = renames[instrument.id]
    new_ref = f"{ruleset.id}@{year}"
    mover = _Mover(source_year, year, {**renames, ruleset.ref: new_ref})
    out_dir.mkdir(parents=True, exist_ok=True)

    unset = _unset_parameters(doc, set(renames) | set(renames.values()), ruleset, source_year)
    params = doc.get("parameters") or {}
    notes = {p.name: copy.deepcopy(params[p.name]["note"]) for p in unset if "note" in params[p.name]}
    unset += _unset_batches(doc, mover, source_year)
    mover.move(doc)
    for name, note in notes.items():  # a note explains last year's value: kept as written, to be revised
        params[name]["note"] = note
    _mark_stale_figures(doc, unset, mover, skip=set(notes))
    doc["version"] = type(doc["version"])(str(year)) if isinstance(doc["version"], str) else str(year)
    doc["status"] = "draft"
    doc["instrument"] = new_instrument
    ruleset_path = out_dir / f"{ruleset.id}-{year}.yaml"
    _write(
        y,
        doc,
        ruleset_path,
        f"Draft of {new_ref}, written by `repolicy new-notice` from {ruleset.ref}: years moved on by "
        f"{year - source_year}.\nParameters marked SET are for you to set from the new notice; texts marked "
        f"CHECK still state a figure of {source_year}.",
    )

    instrument_paths = []
    for notice in notices:
        path = out_dir / f"{renames[notice.id]}.instrument.yaml"
        _write(y, _skeleton(notice, renames[notice.id], mover), path)
        instrument_paths.append(path)

    written = []
    mover = _Mover(source_year, year, mover.renames, neighbours=True)
    for name, text in sorted(scenario_texts.items()):
        sdoc = y.load(text)
        items = sdoc.get("scenarios") if isinstance(sdoc, CommentedMap) else None
        if not isinstance(items, CommentedSeq):
            continue
        for i in reversed(range(len(items))):
            if ruleset.ref not in (items[i].get("rulesets") or []):
                del items[i]
        if not items:
            continue
        mover.move(sdoc)
        path = out_dir / "scenarios" / f"{Path(name).stem}-{year}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(
            y,
            sdoc,
            path,
            f"Moved from {name} ({ruleset.ref}) to {new_ref} by `repolicy new-notice`: years and dates moved on "
            f"by {year - source_year}.\nCheck each against the {year} notice before trusting it: dates now fall "
            f"on other weekdays and holidays, and the figures must be those of the new notice.",
        )
        written.append(path)
    return Draft(ruleset_path, instrument_paths[0], written, unset, new_ref, new_instrument, instrument_paths)


def _write(y: YAML, doc: Any, path: Path, header: str | None = None) -> None:
    """Dump ``doc``; ``header`` lines go above the comments the file already had."""
    buf = io.StringIO()
    y.dump(doc, buf)
    lead = "".join(f"# {line}\n" for line in header.splitlines()) if header else ""
    path.write_text(lead + buf.getvalue(), encoding="utf-8")


def _figures(p: UnsetParameter, mover: _Mover) -> list[str]:
    """How last year's value of ``p`` may be written in a text (numbers of 3 digits or more, dates)."""
    value = p.previous
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)) and abs(value) >= 100 and float(value).is_integer():
        return [str(int(value)), f"{int(value):,}"]
    if isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\d$", value):
        d = dt.date.fromisoformat(value)
        return [value, mover.text(value), f"{d.month}月{d.day}日", f"{d.day} {d.strftime('%B')}"]
    return []


def _mark_stale_figures(doc: CommentedMap, unset: list[UnsetParameter], mover: _Mover, skip: set[str]) -> None:
    """Mark with a CHECK comment every text that still states last year's value of a parameter left unset
    (e.g. a rule's description quoting the 168,000 t total): moving its year on made it name the new year."""
    figures = {re.compile(rf"(?<![\d,]){re.escape(f)}(?![\d,])"): p.name for p in unset for f in _figures(p, mover)}
    if not figures:
        return

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, CommentedMap):
            if len(path) == 2 and path[0] == "parameters" and path[1] in skip:
                return
            for key, value in node.items():
                if isinstance(value, str):
                    hits = sorted({name for f, name in figures.items() if f.search(value)})
                    if hits:
                        node.yaml_add_eol_comment(f"CHECK: states last year's {', '.join(hits)}", key)
                else:
                    walk(value, path + (str(key),))
        elif isinstance(node, CommentedSeq):
            for item in node:
                walk(item, path)

    walk(doc, ())
