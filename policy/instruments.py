"""Legal instruments as data: every article, paragraph and item, citable by eid.

Why this module exists: the service cites the provision that grounds each
finding and quotes its Chinese text verbatim, so the text must come from one
reviewed place (``rulesets/instruments/*.yaml``), never from string literals
scattered through rule code.  Legal staff review those YAML files; this module
only loads them and refuses any file whose structure could make a citation
wrong (an unknown eid scheme, a duplicated eid, a child whose eid does not sit
under its parent, a parent whose text disagrees with its children).

eid scheme (fixed by the API contract, Akoma Ntoso style):

* measures and regulations: ``art_N``; ``art_N__para_M`` only where the
  article has two or more paragraphs; items ``art_N__para_M__item_K`` or,
  in a single-paragraph article, ``art_N__item_K``;
* the 2021 notice: ``preamble``, ``para_N``, ``para_N__item_K``, ``annex_N``.

A parent's ``text`` is its ``intro`` (if it has items) and its children's
texts joined by ``"\\n"``; item texts carry no （一） numbers (the number is in
the label), so a parent with items is not a verbatim substring of the source.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, overload


__all__ = [
    "INSTRUMENTS_DIR",
    "Instrument",
    "InstrumentError",
    "Provision",
    "looks_like_instrument",
    "load_instrument",
    "load_instrument_text",
    "load_instruments",
    "normalise_text",
]

INSTRUMENTS_DIR = Path(__file__).resolve().parent.parent / "rulesets" / "instruments"

STATUSES = frozenset({"draft", "in_force", "repealed"})
KINDS = frozenset({"article", "paragraph", "item", "preamble", "annex"})
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
EID_RE = re.compile(r"^(?:preamble|(?:art|para|annex)_\d+(?:__(?:para|item)_\d+)*)$")

_REQUIRED_TOP = ("id", "title", "short_title", "issuer", "status", "complete", "source", "provisions")
_OPTIONAL_TOP = (
    "document_number",
    "date",
    "published",
    "effective_from",
    "effective_to",
    "notes",
    "signatories",
    "text_available",
)
_REQUIRED_PROV = ("eid", "kind", "label", "text")
_OPTIONAL_PROV = ("text_en", "heading", "part", "intro", "children", "content_available", "note")

_WHITESPACE_RE = re.compile(r"\s+")  # str patterns are Unicode-aware: covers U+3000 too


class InstrumentError(ValueError):
    """An instrument file is malformed; the message starts with the file's path.

    ``eid`` names the provision at fault when there is one, and ``line``/``column`` the place of a YAML
    syntax error, so a caller can point at the line (see :func:`error_line`).
    """

    def __init__(
        self,
        message: str,
        eid: str | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ):
        super().__init__(message + (f" (hint: {hint})" if hint else ""))
        self.eid, self.line, self.column, self.hint = eid, line, column, hint


def problem(exc: InstrumentError) -> str:
    """The error's message without the file and place it starts with (for tools that print those apart)."""
    return re.sub(r"^.*?(?::\d+:\d+)?: ", "", str(exc).split(" (hint: ")[0], count=1)


def error_line(exc: InstrumentError, text: str) -> tuple[int, int]:
    """The 1-based line and column an instrument error points at: the YAML error's own place, else the
    line declaring the provision at fault, else the first line."""
    if exc.line is not None:
        return exc.line, exc.column or 1
    if exc.eid is not None:
        pattern = re.compile(r"^\s*(?:-\s+)?eid:\s*['\"]?" + re.escape(exc.eid) + r"['\"]?\s*$")
        for number, line in enumerate(text.splitlines(), start=1):
            if pattern.match(line):
                return number, line.index("eid") + 1
    return 1, 1


@dataclass(frozen=True)
class Provision:
    """One citable unit: an article, paragraph, item, preamble or annex.

    ``text`` is the verbatim Chinese text (without its 第N条 / （一） number
    and without its 【heading】); ``text_en`` is an unofficial translation.
    ``parent`` and ``children`` are eids, so a Provision is a plain value
    that can be passed around without dragging the whole tree with it.
    """

    eid: str
    kind: str
    label: dict[str, str]
    text: str
    text_en: str | None
    heading: dict[str, str] | None
    part: dict[str, str] | None
    parent: str | None
    children: tuple[str, ...]
    intro: str | None
    content_available: bool = True
    note: dict[str, str] | None = None


@dataclass(frozen=True)
class Instrument:
    """A legal instrument and its provisions, flattened in document order.

    ``provisions`` lists parents before their children, so iterating it
    reproduces the reading order of the source.
    """

    id: str
    title: dict[str, str]
    short_title: dict[str, str]
    issuer: dict[str, str]
    document_number: str | None
    date: dt.date | None
    published: dt.date | None
    effective_from: dt.date | None
    status: str
    complete: bool
    notes: dict[str, str] | None
    source: Path
    provisions: dict[str, Provision]
    signatories: dict[str, str] | None = field(default=None)
    effective_to: dt.date | None = None  # last day in force (repeal); None: still in force

    def in_force(self) -> tuple[dt.date | None, dt.date | None] | None:
        """First and last day the instrument is law (None: open end), or None if it never was.

        A draft (status ``draft``) was never law, whatever dates it carries.  Force
        begins on ``effective_from``; an instrument with no separate effective date
        (the 2021 notice) takes effect on its ``date``: nothing in it binds before it
        exists.  It ends on ``effective_to`` (a repeal), else it is still in force.
        """
        if self.status == "draft":
            return None
        return (self.effective_from or self.date, self.effective_to)

    # False for an instrument registered by its metadata only (number, date, issuer, status): its
    # provisions, if listed, have labels but no text, and citations of it say the text is not available.
    text_available: bool = True
    revision: int | None = None  # the registry's revision number when published, None for a shipped file
    digest: str | None = None  # sha256 of the published text

    def provision(self, eid: str) -> Provision:
        """Return the provision with this eid; a KeyError names the instrument."""
        try:
            return self.provisions[eid]
        except KeyError:
            raise KeyError(f"instrument {self.id!r} has no provision {eid!r}") from None

    def articles(self) -> list[Provision]:
        """Top-level provisions (articles; for the notice also preamble and annexes)."""
        return [p for p in self.provisions.values() if p.parent is None]


def normalise_text(s: str) -> str:
    """Remove all whitespace, including the full-width space U+3000.

    Sources differ only in layout (PDF line breaks, HTML indentation, blank
    lines), so texts are compared with every whitespace character removed.
    """
    return _WHITESPACE_RE.sub("", s)


@overload
def _bilingual(value: Any, what: str, path: Path, *, required: Literal[True] = ...) -> dict[str, str]: ...


@overload
def _bilingual(value: Any, what: str, path: Path, *, required: bool) -> dict[str, str] | None: ...


def _bilingual(value: Any, what: str, path: Path, *, required: bool = True) -> dict[str, str] | None:
    # a required text is never None: None fails the mapping check below
    if value is None and not required:
        return None
    if (
        not isinstance(value, dict)
        or set(value) != {"zh", "en"}
        or not all(isinstance(v, str) and v.strip() for v in value.values())
    ):
        raise InstrumentError(f"{path}: {what} must be a mapping with non-empty 'zh' and 'en' strings")
    return dict(value)


def _date(value: Any, key: str, path: Path) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):  # a datetime is a date subclass: refuse it explicitly
        raise InstrumentError(f"{path}: {key} must be a date (YYYY-MM-DD), not a timestamp")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InstrumentError(f"{path}: {key} must be a date YYYY-MM-DD or null, got {value!r}")


def _walk(
    nodes: Any,
    parent: Provision | None,
    out: dict[str, Provision],
    path: Path,
    textless: bool = False,
) -> tuple[str, ...]:
    """Validate a list of provision nodes, add them to ``out``, return their eids.

    ``textless``: the instrument is registered by its metadata only, so a provision has no ``text``.
    """
    where = f"children of {parent.eid}" if parent else "provisions"
    if not isinstance(nodes, list) or not nodes:
        raise InstrumentError(f"{path}: {where} must be a non-empty list")
    eids: list[str] = []
    for node in nodes:
        if not isinstance(node, dict):
            raise InstrumentError(f"{path}: every entry of {where} must be a mapping")
        eid = node.get("eid")
        _eid = eid if isinstance(eid, str) else None
        ctx = f"provision {eid!r}" if isinstance(eid, str) else f"an entry of {where}"
        missing = [k for k in _REQUIRED_PROV if k not in node and not (textless and k == "text")]
        if missing:
            raise InstrumentError(f"{path}: {ctx} is missing {', '.join(missing)}", eid=_eid)
        unknown = sorted(set(node) - set(_REQUIRED_PROV) - set(_OPTIONAL_PROV))
        if unknown:
            raise InstrumentError(f"{path}: {ctx} has unknown keys {', '.join(unknown)}", eid=_eid)
        if not isinstance(eid, str) or not EID_RE.match(eid):
            raise InstrumentError(f"{path}: malformed eid {eid!r}", eid=_eid)
        if eid in out:
            raise InstrumentError(f"{path}: duplicate eid {eid!r}", eid=_eid)
        if parent is None and "__" in eid:
            raise InstrumentError(f"{path}: {eid!r} is top-level but its eid names a parent", eid=_eid)
        if parent is not None and not (eid.startswith(parent.eid + "__") and "__" not in eid[len(parent.eid) + 2 :]):
            raise InstrumentError(
                f"{path}: eid {eid!r} does not match its parent's eid prefix {parent.eid + '__'!r}", eid=_eid
            )
        kind = node["kind"]
        if kind not in KINDS:
            raise InstrumentError(f"{path}: {ctx} has unknown kind {kind!r}", eid=_eid)
        text, text_en, intro = node.get("text", ""), node.get("text_en"), node.get("intro")
        if textless and text:
            raise InstrumentError(f"{path}: {ctx} has a text, but the instrument says text_available: false", eid=_eid)
        if not textless and (not isinstance(text, str) or not text.strip()):
            raise InstrumentError(f"{path}: {ctx} has an empty or non-string text", eid=_eid)
        if text_en is not None and not isinstance(text_en, str):
            raise InstrumentError(f"{path}: {ctx} text_en must be a string", eid=_eid)
        if intro is not None and not isinstance(intro, str):
            raise InstrumentError(f"{path}: {ctx} intro must be a string", eid=_eid)
        content_available = node.get("content_available", not textless)
        if not isinstance(content_available, bool):
            raise InstrumentError(f"{path}: {ctx} content_available must be true or false", eid=_eid)

        # Insert the parent before recursing so the flat dict keeps document order.
        placeholder = Provision(
            eid=eid,
            kind=kind,
            label=_bilingual(node["label"], f"label of {eid}", path),
            text=text,
            text_en=text_en,
            heading=_bilingual(node.get("heading"), f"heading of {eid}", path, required=False),
            part=_bilingual(node.get("part"), f"part of {eid}", path, required=False),
            parent=parent.eid if parent else None,
            children=(),
            intro=intro,
            content_available=content_available,
            note=_bilingual(node.get("note"), f"note of {eid}", path, required=False),
        )
        out[eid] = placeholder
        children: tuple[str, ...] = ()
        if "children" in node:
            children = _walk(node["children"], placeholder, out, path, textless)
            # A citation of the parent must say exactly what its children say.
            expected = "\n".join(([intro] if intro is not None else []) + [out[c].text for c in children])
            if text != expected and not textless:
                raise InstrumentError(
                    f"{path}: text of {eid!r} is not its intro and children's texts joined by newlines", eid=_eid
                )
            kinds = {out[c].kind for c in children}
            if kinds == {"paragraph"} and len(children) < 2:
                # Contract: __para_M exists only where an article has two or more paragraphs.
                raise InstrumentError(f"{path}: {ctx} has a single paragraph child; cite the article itself", eid=_eid)
            out[eid] = replace(placeholder, children=children)
        elif intro is not None:
            raise InstrumentError(f"{path}: {ctx} has an intro but no children", eid=_eid)
        eids.append(eid)
    return tuple(eids)


def looks_like_instrument(text: str) -> bool:
    """Whether a file's text is an instrument rather than a ruleset, read from its top-level keys (without
    parsing, so that a file with a YAML error is still reported as what it is meant to be)."""
    if re.search(r"^ruleset\s*:", text, re.M):
        return False
    return re.search(r"^(?:provisions|text_available)\s*:", text, re.M) is not None


def _parse_yaml(text: str, path: Path | str) -> Any:
    """The file's YAML, read by the same guarded loader as rulesets (size, nesting depth, over-long integers,
    lone surrogates): an instrument published over HTTP is as hostile as a ruleset can be."""
    from policy.yamlsource import YamlSourceError, load_yaml

    try:
        return load_yaml(text)
    except YamlSourceError as exc:
        line, column = (exc.location.line, exc.location.column) if exc.location else (None, None)
        where = f"{path}:{line}:{column}" if line is not None else str(path)
        raise InstrumentError(f"{where}: {exc.message}", line=line, column=column, hint=exc.hint) from None


def load_instrument(path: Path) -> Instrument:
    """Load and validate one instrument YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InstrumentError(f"{path}: cannot read instrument: {exc}") from exc
    return _build(_parse_yaml(text, path), path, path.resolve().parent)


def load_instrument_text(text: str | bytes, name: str) -> Instrument:
    """Load and validate an instrument sent as text (a publication); ``name`` is how messages call it.

    Its ``source`` is kept as written (a reference to where the text was taken from), not resolved
    against a folder.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InstrumentError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    return _build(_parse_yaml(text, name), Path(name), None)


def _build(data: Any, path: Path, base: Path | None) -> Instrument:
    if not isinstance(data, dict):
        raise InstrumentError(f"{path}: an instrument file must be a YAML mapping")
    text_available = data.get("text_available", True)
    if not isinstance(text_available, bool):
        raise InstrumentError(f"{path}: text_available must be true or false")
    required = _REQUIRED_TOP if text_available else tuple(k for k in _REQUIRED_TOP if k != "provisions")
    missing = [k for k in required if k not in data]
    if missing:
        raise InstrumentError(f"{path}: missing keys: {', '.join(missing)}")
    unknown = sorted(set(data) - set(_REQUIRED_TOP) - set(_OPTIONAL_TOP))
    if unknown:
        raise InstrumentError(f"{path}: unknown keys: {', '.join(unknown)}")
    if not isinstance(data["id"], str) or not ID_RE.match(data["id"]):
        raise InstrumentError(f"{path}: id must be a non-empty string of lower-case letters, digits, . _ -")
    if data["status"] not in STATUSES:
        raise InstrumentError(f"{path}: bad status {data['status']!r} (expected one of {', '.join(sorted(STATUSES))})")
    if not isinstance(data["complete"], bool):
        raise InstrumentError(f"{path}: complete must be true or false")
    if not isinstance(data["source"], str) or not data["source"]:
        raise InstrumentError(f"{path}: source must be a path relative to the instrument file")
    document_number = data.get("document_number")
    if document_number is not None and not isinstance(document_number, str):
        raise InstrumentError(f"{path}: document_number must be a string or null")

    start = _date(data.get("effective_from"), "effective_from", path) or _date(data.get("date"), "date", path)
    end = _date(data.get("effective_to"), "effective_to", path)
    if start is not None and end is not None and end < start:
        raise InstrumentError(f"{path}: effective_to {end} is before the entry into force {start}")

    provisions: dict[str, Provision] = {}
    if text_available or data.get("provisions") is not None:
        _walk(data["provisions"], None, provisions, path, textless=not text_available)

    return Instrument(
        id=data["id"],
        title=_bilingual(data["title"], "title", path),
        short_title=_bilingual(data["short_title"], "short_title", path),
        issuer=_bilingual(data["issuer"], "issuer", path),
        document_number=document_number,
        date=_date(data.get("date"), "date", path),
        published=_date(data.get("published"), "published", path),
        effective_from=_date(data.get("effective_from"), "effective_from", path),
        effective_to=_date(data.get("effective_to"), "effective_to", path),
        status=data["status"],
        complete=data["complete"],
        notes=_bilingual(data.get("notes"), "notes", path, required=False),
        source=(base / data["source"]).resolve() if base is not None else Path(data["source"]),
        provisions=provisions,
        signatories=_bilingual(data.get("signatories"), "signatories", path, required=False),
        text_available=text_available,
    )


def load_instruments(directory: Path = INSTRUMENTS_DIR) -> dict[str, Instrument]:
    """Load every ``*.yaml`` in ``directory``, keyed by instrument id."""
    result: dict[str, Instrument] = {}
    origin: dict[str, Path] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        inst = load_instrument(path)
        if inst.id in result:
            raise InstrumentError(f"{path}: duplicate instrument id {inst.id!r} (also in {origin[inst.id]})")
        result[inst.id] = inst
        origin[inst.id] = path
    return result
