"""The instrument files must say exactly what the sources say.

Citations quote ``text`` verbatim, so these tests rebuild each source's body
from the encoded provisions (numbers, headings and chapter titles re-inserted
from the eids, not from the YAML labels) and compare it, whitespace removed,
with the whole source file.  A single changed, dropped or added character in
any provision text, heading or chapter title fails ``test_reconstructs_source``.
Only files inside the project are read.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from policy.instruments import (
    INSTRUMENTS_DIR,
    Instrument,
    InstrumentError,
    Provision,
    load_instrument,
    load_instruments,
    normalise_text,
)

PROJECT = Path(__file__).resolve().parent.parent
SOURCES = PROJECT / "rulesets" / "sources"
IDS = ["measures-draft", "notice-2021", "measures-2025", "regulation-2024"]
METADATA_ONLY = ["notice-2023-1", "notice-2023-3"]  # registered by number and date: the texts are not at hand
MEASURES_TYPE = ["measures-draft", "measures-2025", "regulation-2024"]
EID_RE = re.compile(r"^(art|para|annex)_\d+(__(para|item)_\d+)*$|^preamble$")
ZH_DIGITS = "零一二三四五六七八九"


def zh_num(n: int) -> str:
    """1..99 as a Chinese numeral (十一, 二十, 三十二)."""
    assert 0 < n < 100
    if n < 10:
        return ZH_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else ZH_DIGITS[tens]) + "十" + (ZH_DIGITS[ones] if ones else "")


def num(eid_part: str) -> int:
    return int(eid_part.rsplit("_", 1)[1])


@pytest.fixture(scope="module")
def instruments() -> dict[str, Instrument]:
    return load_instruments(INSTRUMENTS_DIR)


def source_text(inst: Instrument) -> str:
    """The source file as a reader sees it: for the notice, without front matter and HTML tags."""
    raw = inst.source.read_text(encoding="utf-8")
    if inst.source.suffix == ".md" and raw.lstrip().startswith("---"):
        raw = raw.lstrip().split("---", 2)[2]
    return re.sub(r"<[^>]+>", "", raw)


def norm_source(inst: Instrument) -> str:
    return normalise_text(source_text(inst))


def segments(inst: Instrument, p: Provision) -> list[str]:
    """The leaf texts under ``p`` in order, each item preceded by its （N） number."""
    if not p.children:
        return [p.text]
    out = [p.intro] if p.intro is not None else []
    for eid in p.children:
        child = inst.provision(eid)
        if child.kind == "item":
            out.append(f"（{zh_num(num(eid))}）")
        out.extend(segments(inst, child))
    return out


# Text in the sources that is deliberately not a provision (titles, news lead,
# contacts, signature, annex headings).  Kept literal so that any drift shows.
DRAFT_TITLE = "稀土开采和稀土冶炼分离总量调控管理办法 (暂行) (公开征求意见稿)"
M2025_TITLE = "# 稀土开采和稀土冶炼分离总量调控管理暂行办法 （2025年7月28日工业和信息化部、国家发展改革委、自然资源部令第71号公布，自公布之日起施行。）"
REG_TITLE = "# 稀土管理条例 <!-- INFO END -->"  # the HTML comment is stripped with the tags
NOTICE_LEAD = "财联社9月30日讯，工信部下达2021年度稀土开采、冶炼分离总量控制指标，2021年度稀土开采、冶炼分离总量控制指标分别为168000吨、162000吨，上述指标均含已下达的第一批指标。以下为全文："
NOTICE_CONTACTS = (
    "联系人及电话：工业和信息化部原材料工业司 韩保红 010-68205577 自然资源部矿业权管理司 祝 跃 010-66558339"
)
NOTICE_SIGNATURE = "工业和信息化部 自然资源部 2021年8月24日 附件1： 附件2："


def expected_measures_source(inst: Instrument, title: str) -> str:
    out = [re.sub(r"<[^>]+>", "", title)]
    current_part = None
    for art in inst.articles():
        assert art.kind == "article", art.eid
        if art.part is not None and art.part != current_part:
            out.append(art.part["zh"])
            current_part = art.part
        out.append(f"第{zh_num(num(art.eid))}条")
        if art.heading is not None:
            out.append(f"【{art.heading['zh']}】")
        out.extend(segments(inst, art))
    return normalise_text("".join(out))


def expected_notice_source(inst: Instrument) -> str:
    out = [NOTICE_LEAD, inst.provision("preamble").text]
    for p in inst.articles():
        if p.eid.startswith("para_"):
            out.append(f"{zh_num(num(p.eid))}、")
            out.extend(segments(inst, p))
    out.append(NOTICE_CONTACTS)
    out.append("附件：")
    for p in inst.articles():
        if p.kind == "annex":
            out.append(f"{num(p.eid)}. {p.text}")
    out.append(NOTICE_SIGNATURE)
    return normalise_text("".join(out))


EXPECTED = {
    "measures-draft": lambda i: expected_measures_source(i, DRAFT_TITLE),
    "measures-2025": lambda i: expected_measures_source(i, M2025_TITLE),
    "regulation-2024": lambda i: expected_measures_source(i, REG_TITLE),
    "notice-2021": expected_notice_source,
}


# --- text fidelity -----------------------------------------------------------------


@pytest.mark.parametrize("iid", IDS)
def test_reconstructs_source(instruments, iid):
    """Numbers + headings + leaf texts, in document order, ARE the source, whitespace aside."""
    inst = instruments[iid]
    expected = EXPECTED[iid](inst)
    actual = norm_source(inst)
    if expected != actual:
        i = next((k for k, (a, b) in enumerate(zip(expected, actual)) if a != b), min(len(expected), len(actual)))
        pytest.fail(
            f"{iid}: encoded text diverges from the source at char {i}:\n"
            f"  encoded: …{expected[max(0, i - 30) : i + 30]}…\n"
            f"  source:  …{actual[max(0, i - 30) : i + 30]}…"
        )


def has_items_below(inst: Instrument, p: Provision) -> bool:
    return any(inst.provision(c).kind == "item" or has_items_below(inst, inst.provision(c)) for c in p.children)


@pytest.mark.parametrize("iid", IDS)
def test_every_text_occurs_in_source(instruments, iid):
    """Each line of each text is verbatim in the source (whitespace aside).

    Lines, not whole texts: a parent with items joins the item texts without
    their （一） numbers, so only its lines are substrings of the source.
    """
    inst = instruments[iid]
    src = norm_source(inst)
    for p in inst.provisions.values():
        for line in p.text.split("\n"):
            assert normalise_text(line) in src, f"{iid} {p.eid}: {line!r} not in source"
        if not has_items_below(inst, p):
            assert normalise_text(p.text) in src, f"{iid} {p.eid}: text not contiguous in source"


@pytest.mark.parametrize("iid", IDS)
def test_texts_are_clean(instruments, iid):
    """No stripped numbers or headings left in, no page-break whitespace inside Chinese text."""
    for p in instruments[iid].provisions.values():
        for line in p.text.split("\n"):
            assert line == line.strip(), p.eid
            assert not re.match(
                r"^(第[一二三四五六七八九十]+[条款章]|[一二三四五六七]、|（[一二三四五六七八九十]+）|【)", line
            ), p.eid
            # the only spaces in the sources' provisions are the draft's blank date and the annex's blank month
            assert "  " not in line and "\u3000" not in line, p.eid


def test_page_break_artefacts_joined(instruments):
    draft = instruments["measures-draft"]
    assert draft.provision("art_3").text.endswith("总量控制指标（以下简称稀土指标）。")
    assert "按年度向稀土集团" in draft.provision("art_8").text
    assert "并录入工业和信息化部" in draft.provision("art_12").text
    assert "责令停产停业" in draft.provision("art_16__para_1").text


@pytest.mark.parametrize("iid", IDS)
def test_parent_text_is_joined_children(instruments, iid):
    inst = instruments[iid]
    parents = [p for p in inst.provisions.values() if p.children]
    assert parents
    for p in parents:
        kids = [inst.provision(c) for c in p.children]
        assert all(k.parent == p.eid for k in kids)
        has_items = any(k.kind == "item" for k in kids)
        assert (p.intro is not None) == has_items, p.eid
        head = [p.intro] if has_items else []
        assert p.text == "\n".join(head + [k.text for k in kids]), p.eid


def test_citation_example_from_contract(instruments):
    p = instruments["measures-draft"].provision("art_16__para_2")
    assert p.label == {"zh": "第十六条第二款", "en": "Art. 16(2)"}
    assert p.text == "稀土集团所属稀土开采企业和稀土冶炼分离企业存在超指标生产等违法违规行为的，核减下一年度稀土指标。"


# --- structure -----------------------------------------------------------------------


def raw_provisions(path: Path) -> list[dict]:
    def walk(nodes):
        for n in nodes:
            yield n
            yield from walk(n.get("children", []))

    return list(walk(yaml.safe_load(path.read_text(encoding="utf-8"))["provisions"]))


def test_all_instruments_present(instruments):
    assert sorted(instruments) == sorted(IDS + METADATA_ONLY)
    for iid in IDS + METADATA_ONLY:
        assert (INSTRUMENTS_DIR / f"{iid}.yaml").is_file()


@pytest.mark.parametrize("iid", IDS)
def test_eids_unique_and_well_formed(instruments, iid):
    raw = raw_provisions(INSTRUMENTS_DIR / f"{iid}.yaml")
    eids = [n["eid"] for n in raw]
    assert len(eids) == len(set(eids))
    assert list(instruments[iid].provisions) == eids  # flattened in document order
    for eid in eids:
        assert EID_RE.match(eid), eid


@pytest.mark.parametrize("iid", IDS)
def test_every_provision_is_bilingual(instruments, iid):
    for p in instruments[iid].provisions.values():
        assert set(p.label) == {"zh", "en"} and all(p.label.values()), p.eid
        assert p.text_en and p.text_en.strip(), p.eid
        assert p.text_en.count("\n") == p.text.count("\n"), p.eid
        for extra in (p.heading, p.part):
            assert extra is None or (set(extra) == {"zh", "en"} and all(extra.values())), p.eid


@pytest.mark.parametrize("iid", MEASURES_TYPE)
def test_measures_numbering_and_labels(instruments, iid):
    """Articles art_1..art_N; paras only where >= 2; items numbered 1..K; labels follow eids."""
    inst = instruments[iid]
    arts = inst.articles()
    assert [a.eid for a in arts] == [f"art_{n}" for n in range(1, len(arts) + 1)]
    for p in inst.provisions.values():
        steps = p.eid.split("__")
        zh, en = f"第{zh_num(num(steps[0]))}条", f"Art. {num(steps[0])}"
        for step in steps[1:]:
            if step.startswith("para_"):
                zh, en = zh + f"第{zh_num(num(step))}款", en + f"({num(step)})"
            else:
                zh, en = zh + f"第（{zh_num(num(step))}）项", en + f" item ({num(step)})"
        assert p.label == {"zh": zh, "en": en}, p.eid
        expected_kind = {"art": "article", "para": "paragraph", "item": "item"}[steps[-1].split("_")[0]]
        assert p.kind == expected_kind, p.eid
        if p.children:
            kids = [inst.provision(c) for c in p.children]
            kinds = {k.kind for k in kids}
            assert len(kinds) == 1, p.eid
            assert [num(k.eid) for k in kids] == list(range(1, len(kids) + 1)), p.eid
            if kinds == {"paragraph"}:
                assert len(kids) >= 2, p.eid


def paragraph_counts(inst: Instrument) -> dict[str, int]:
    return {
        a.eid: len(a.children)
        for a in inst.articles()
        if a.children and inst.provision(a.children[0]).kind == "paragraph"
    }


def test_measures_draft_structure(instruments):
    inst = instruments["measures-draft"]
    assert len(inst.articles()) == 19
    assert paragraph_counts(inst) == {"art_2": 3, "art_4": 2, "art_11": 2, "art_16": 2}
    assert not any(p.kind == "item" for p in inst.provisions.values())
    assert len(inst.provisions) == 28
    parts = [a.part["zh"] for a in inst.articles()]
    assert parts[0] == "第一章 总则" and parts[-1] == "第五章 附则"
    assert all(a.heading for a in inst.articles()[:17])
    assert inst.provision("art_18").heading is None and inst.provision("art_19").heading is None


def test_measures_2025_structure(instruments):
    inst = instruments["measures-2025"]
    assert len(inst.articles()) == 14
    assert paragraph_counts(inst) == {"art_2": 2, "art_4": 2, "art_6": 2, "art_7": 3, "art_9": 2, "art_12": 3}
    assert not any(p.kind == "item" for p in inst.provisions.values())
    assert all(a.heading is None and a.part is None for a in inst.articles())


def test_regulation_2024_structure(instruments):
    inst = instruments["regulation-2024"]
    assert len(inst.articles()) == 32
    assert paragraph_counts(inst) == {
        "art_4": 2,
        "art_7": 2,
        "art_8": 2,
        "art_9": 2,
        "art_10": 2,
        "art_11": 2,
        "art_14": 2,
        "art_16": 3,
        "art_18": 3,
        "art_19": 2,
        "art_27": 2,
        "art_30": 6,
    }
    items = [p.eid for p in inst.provisions.values() if p.kind == "item"]
    assert items == [f"art_18__para_2__item_{k}" for k in range(1, 6)] + [
        "art_20__item_1",
        "art_20__item_2",
        "art_22__item_1",
        "art_22__item_2",
    ]
    # penalty articles are single paragraphs without items, cited as the article itself
    for n in (21, 23, 25, 26):
        assert inst.provision(f"art_{n}").children == ()
    assert inst.provision("art_22").intro.endswith("由市场监督管理部门吊销其营业执照：")


def test_notice_structure(instruments):
    inst = instruments["notice-2021"]
    top = [p.eid for p in inst.articles()]
    assert top == ["preamble"] + [f"para_{n}" for n in range(1, 8)] + ["annex_1", "annex_2"]
    assert inst.provision("preamble").kind == "preamble"
    assert inst.provision("para_3").children == tuple(f"para_3__item_{k}" for k in range(1, 6))
    assert all(not inst.provision(f"para_{n}").children for n in (1, 2, 4, 5, 6, 7))
    for n in range(1, 8):
        assert inst.provision(f"para_{n}").label == {"zh": f"通知第{zh_num(n)}条", "en": f"Notice para. {n}"}
    for k in range(1, 6):
        assert inst.provision(f"para_3__item_{k}").label == {
            "zh": f"通知第三条第（{zh_num(k)}）项",
            "en": f"Notice para. 3({k})",
        }
    assert inst.provision("preamble").label == {"zh": "通知序言", "en": "Preamble"}
    for n in (1, 2):
        annex = inst.provision(f"annex_{n}")
        assert annex.kind == "annex" and annex.label == {"zh": f"附件{n}", "en": f"Annex {n}"}
        assert annex.content_available is False and annex.note
    assert inst.provision("annex_1").text == "2021年度稀土开采、冶炼分离总量控制指标"
    assert inst.provision("annex_2").text == "2021年 月6家稀土集团生产调度报表"
    assert all(p.content_available for p in inst.provisions.values() if p.kind != "annex")


# --- metadata ------------------------------------------------------------------------

D = dt.date
META = {
    "measures-draft": ("draft", True, None, None, None, None),
    "notice-2021": ("in_force", True, D(2021, 8, 24), D(2021, 9, 30), None, None),
    "measures-2025": (
        "in_force",
        False,
        D(2025, 7, 28),
        D(2025, 7, 28),
        D(2025, 7, 28),
        "工业和信息化部、国家发展改革委、自然资源部令第71号",
    ),
    "regulation-2024": ("in_force", True, D(2024, 6, 22), D(2024, 6, 22), D(2024, 10, 1), "国务院令第785号"),
}


@pytest.mark.parametrize("iid", IDS)
def test_metadata(instruments, iid):
    inst = instruments[iid]
    status, complete, date, published, effective, number = META[iid]
    assert inst.id == iid
    assert (inst.status, inst.complete, inst.date, inst.published, inst.effective_from, inst.document_number) == (
        status,
        complete,
        date,
        published,
        effective,
        number,
    )
    assert inst.source.is_file() and inst.source.parent == SOURCES
    for field_ in (inst.title, inst.short_title, inst.issuer, inst.notes):
        assert set(field_) == {"zh", "en"} and all(field_.values())


def test_instrument_titles(instruments):
    assert (
        instruments["measures-draft"].title["zh"] == "稀土开采和稀土冶炼分离总量调控管理办法（暂行）（公开征求意见稿）"
    )
    assert instruments["measures-2025"].title["zh"] == "稀土开采和稀土冶炼分离总量调控管理暂行办法"
    assert instruments["regulation-2024"].title["zh"] == "稀土管理条例"
    assert instruments["notice-2021"].signatories["zh"] == "工业和信息化部、自然资源部"


# --- loader --------------------------------------------------------------------------


def test_provision_lookup_errors(instruments):
    inst = instruments["measures-draft"]
    assert inst.provision("art_2__para_3").parent == "art_2"
    with pytest.raises(KeyError, match="measures-draft.*art_20"):
        inst.provision("art_20")


def test_normalise_text_removes_all_whitespace():
    assert normalise_text(" 第一条\u3000为\t有效\n保护\r\n ") == "第一条为有效保护"


MINIMAL = {
    "id": "x",
    "title": {"zh": "甲", "en": "A"},
    "short_title": {"zh": "甲", "en": "A"},
    "issuer": {"zh": "乙", "en": "B"},
    "status": "in_force",
    "complete": True,
    "source": "x.txt",
    "date": "2024-01-02",
    "provisions": [
        {
            "eid": "art_1",
            "kind": "article",
            "label": {"zh": "第一条", "en": "Art. 1"},
            "text": "甲。\n乙。",
            "text_en": "A.\nB.",
            "children": [
                {
                    "eid": "art_1__para_1",
                    "kind": "paragraph",
                    "label": {"zh": "第一条第一款", "en": "Art. 1(1)"},
                    "text": "甲。",
                    "text_en": "A.",
                },
                {
                    "eid": "art_1__para_2",
                    "kind": "paragraph",
                    "label": {"zh": "第一条第二款", "en": "Art. 1(2)"},
                    "text": "乙。",
                    "text_en": "B.",
                },
            ],
        },
    ],
}


def write(tmp_path: Path, doc: dict, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def mutated(fn) -> dict:
    import copy

    doc = copy.deepcopy(MINIMAL)
    fn(doc)
    return doc


def test_minimal_file_loads(tmp_path):
    inst = load_instrument(write(tmp_path, MINIMAL))
    assert list(inst.provisions) == ["art_1", "art_1__para_1", "art_1__para_2"]
    assert inst.provision("art_1").children == ("art_1__para_1", "art_1__para_2")
    assert inst.date == D(2024, 1, 2) and inst.source == (tmp_path / "x.txt").resolve()


@pytest.mark.parametrize(
    "how, message",
    [
        (lambda d: d.pop("status"), "missing keys: status"),
        (lambda d: d.update(status="in force"), "bad status"),
        (lambda d: d.update(date="2024-13-01"), "date"),
        (lambda d: d.update(colour="red"), "unknown keys"),
        (lambda d: d["provisions"][0].pop("text"), "missing text"),
        (
            lambda d: d["provisions"].append(
                {"eid": "art_1", "kind": "article", "label": {"zh": "第一条", "en": "Art. 1"}, "text": "丙。"}
            ),
            "duplicate eid 'art_1'",
        ),
        (lambda d: d["provisions"][0]["children"][1].update(eid="art_2__para_2"), "does not match its parent"),
        (lambda d: d["provisions"][0]["children"][1].update(eid="art_1__para_2__item_1"), "does not match its parent"),
        (lambda d: d["provisions"][0].update(eid="article_1"), "malformed eid"),
        (lambda d: d["provisions"][0]["children"][0].update(text="丙。"), "joined by newlines"),
        (
            lambda d: d["provisions"][0].update(children=d["provisions"][0]["children"][:1], text="甲。"),
            "single paragraph",
        ),
        (lambda d: d["provisions"][0].update(kind="section"), "unknown kind"),
        (lambda d: d["provisions"][0]["label"].pop("en"), "label of art_1"),
    ],
)
def test_malformed_files_are_refused(tmp_path, how, message):
    path = write(tmp_path, mutated(how))
    with pytest.raises(InstrumentError, match=re.escape(str(path)) + ".*" + re.escape(message)):
        load_instrument(path)


def test_duplicate_instrument_ids_are_refused(tmp_path):
    write(tmp_path, MINIMAL, "a.yaml")
    write(tmp_path, MINIMAL, "b.yaml")
    with pytest.raises(InstrumentError, match="duplicate instrument id 'x'"):
        load_instruments(tmp_path)
