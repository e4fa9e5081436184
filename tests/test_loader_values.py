"""A value of any kind, in any place of a ruleset file, is loaded or reported as an issue with its line.

Rulesets are written by hand: where a name belongs (a fact list, a field, an alias) a person may write a
list, a mapping, a number or nothing at all.  Each such mistake is an issue listed with its file and line
(a 422 at the API), never an exception out of the validator (a 500 at the API); and what loads holds the
types the model declares (typeguard checks every field of every part), so no later reader meets a list
where the model promises a text.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings, strategies as st
from typeguard import CollectionCheckStrategy, TypeCheckError, check_type

from helpers import FLOOR_3000, auth
from policy.loader import RulesetInvalid, load_ruleset
from policy.registry import RULESETS_DIR

FILE = "rulesets/notice/2021.yaml"


def _small_measures() -> dict:
    """The draft Measures with one rule: a consequence, an interpretation and the responsibility (fast to load)."""
    doc = yaml.safe_load((RULESETS_DIR / "measures" / "draft.yaml").read_text(encoding="utf-8"))
    doc["rules"] = [r for r in doc["rules"] if "consequences" in r and "interpretation" in r][:1]
    doc.pop("scenarios", None)
    return doc


# Small rulesets between them using every part of the format: derived and computed facts, parameters,
# batches, responsibility, consequences, interpretations.
SAMPLE = (Path(__file__).parent / "fixtures" / "ruleset-sample.yaml").read_text(encoding="utf-8")
DOCS = (
    yaml.safe_load(SAMPLE),
    yaml.safe_load((RULESETS_DIR / "notice" / "2023.yaml").read_text(encoding="utf-8")),
    _small_measures(),
)


def _at(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _places(node: Any, path: tuple = ()) -> list[tuple]:
    """The path (keys and indexes) to every value of a parsed document, the document itself first."""
    places = [path]
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        places += _places(value, (*path, key))
    return places


PLACES = [(n, path) for n, doc in enumerate(DOCS) for path in _places(doc)]
MAPPINGS = [(n, path) for n, path in PLACES if isinstance(_at(DOCS[n], path), dict)]
# words of the ruleset format (docs/rules.md), for a key added where a document has none
FORMAT_KEYS = (
    "as",
    "where",
    "count",
    "sum",
    "group_by",
    "from",
    "to",
    "fact",
    "list",
    "field",
    "value",
    "unless",
    "details",
    "period",
    "consequences",
    "interpretation",
    "citation",
    "citations",
    "responsibility",
    "batches",
    "reads_facts_from",
    "effective",
    "status",
    "subject",
    "type",
    "id",
    "unit",
    "note",
)
WORDS = sorted({v for n, path in PLACES if isinstance(v := _at(DOCS[n], path), str) and len(v) < 40})

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(WORDS)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(FORMAT_KEYS) | st.sampled_from(WORDS) | st.text(max_size=6), inner, max_size=3
        )
    ),
    max_leaves=6,
)


def undeclared_types(value: Any, where: str = "ruleset") -> list[str]:
    """Each field, of the value and of every dataclass inside it, whose value is not of its declared type."""
    out = []
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        hints = typing.get_type_hints(type(value))
        for field in dataclasses.fields(value):
            part = getattr(value, field.name)
            try:
                check_type(part, hints[field.name], collection_check_strategy=CollectionCheckStrategy.ALL_ITEMS)
            except TypeCheckError as exc:
                out.append(f"{where}.{field.name}: {exc}")
            out += undeclared_types(part, f"{where}.{field.name}")
    elif isinstance(value, Mapping):
        for key, part in value.items():
            out += undeclared_types(part, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, part in enumerate(value):
            out += undeclared_types(part, f"{where}[{index}]")
    return out


def assert_loaded_or_located(doc: Any, instruments) -> None:
    """The document, written as YAML, loads with the declared types, or is refused with issues each naming
    the file and a line of it."""
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    try:
        ruleset = load_ruleset(text, FILE, instruments)
    except RulesetInvalid as exc:
        assert exc.issues, "refused without an issue"
        lines = max(len(text.splitlines()), 1)
        assert all(i.file == FILE and 1 <= i.line <= lines for i in exc.issues), exc.issues
    else:
        assert undeclared_types(ruleset) == []


def test_the_documents_load_as_they_are_with_the_declared_types(instruments):
    for doc in DOCS:
        ruleset = load_ruleset(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), FILE, instruments)
        assert undeclared_types(ruleset) == []
    # the check itself sees a list held where the model declares a text
    ruleset = load_ruleset(SAMPLE, FILE, instruments)
    odd = dataclasses.replace(ruleset.parameters["report_day"], unit=["day_of_month"])
    [problem] = undeclared_types(dataclasses.replace(ruleset, parameters={"report_day": odd}))
    assert problem.startswith("ruleset.parameters['report_day'].unit:")


@settings(deadline=None)  # a load takes 50 to 100 ms, several times that on a loaded machine
@given(place=st.sampled_from(PLACES), value=values)
def test_any_value_in_place_of_another_is_loaded_or_refused_with_its_line(instruments, place, value):
    n, path = place
    doc = copy.deepcopy(DOCS[n])
    if path:
        _at(doc, path[:-1])[path[-1]] = value
    else:
        doc = value
    assert_loaded_or_located(doc, instruments)


@settings(deadline=None)
@given(place=st.sampled_from(MAPPINGS), key=st.sampled_from(FORMAT_KEYS), value=values)
def test_any_value_under_a_key_of_the_format_is_loaded_or_refused_with_its_line(instruments, place, key, value):
    n, path = place
    doc = copy.deepcopy(DOCS[n])
    _at(doc, path)[key] = value
    assert_loaded_or_located(doc, instruments)


# A list where a name belongs: each raised a TypeError (unhashable type) out of the loader once.
WRONG_KINDS = [
    ("      - fact: enterprises\n", "      - fact: [enterprises]\n", "unknown fact list ['enterprises']"),
    ("    from: allocations\n", "    from: [allocations]\n", "unknown fact list ['allocations']"),
    ("  - list: reports\n", "  - list: [reports]\n", "unknown fact list ['reports']"),
    ("group_by: [enterprise, year, activity]", "group_by: [[enterprise], year, activity]", "no field ['enterprise']"),
    ("sum: {amount_t_reo: amount_t_reo}", "sum: {amount_t_reo: [amount_t_reo]}", "is not a number field to sum"),
    ("    from: allocations\n", "    from: allocations\n    as: [f]\n", "alias ['f'] must be a lower-case name"),
    # loaded once, a list held where the model declares a text
    ("    unit: day_of_month\n", "    unit: [day_of_month]\n", "`unit` must be a text"),
    # each failed an assertion after validation once (AssertionError, a 500 on publishing)
    (
        "    title: {zh: 冶炼分离产能低于2000吨仍获分配指标, en: Quota allocated to a smelter below the capacity floor}\n",
        "    title: null\n",
        "`title` must have exactly `zh` and `en` texts",
    ),
    (
        "title:\n  zh: 2021年度稀土开采、冶炼分离总量控制指标通知规则\n"
        "  en: Rules of the 2021 rare-earth mining and smelting/separation quota notice\n",
        "title: null\n",
        "`title` must have exactly `zh` and `en` texts",
    ),
]


@pytest.mark.parametrize(
    "old, new, words",
    WRONG_KINDS,
    ids=[
        "pattern fact",
        "derived from",
        "computed list",
        "derived group_by",
        "derived sum",
        "derived as",
        "parameter unit",
        "rule title null",
        "ruleset title null",
    ],
)
def test_a_value_of_the_wrong_kind_is_an_issue_on_its_line(instruments, old, new, words):
    assert old in SAMPLE
    text = SAMPLE.replace(old, new, 1)
    with pytest.raises(RulesetInvalid) as exc:
        load_ruleset(text, FILE, instruments)
    issue = exc.value.issues[0]
    assert words in issue.message
    assert new.strip().splitlines()[-1].strip() in text.splitlines()[issue.line - 1]


def test_publishing_a_list_for_a_fact_list_is_a_422_with_its_line(fresh_client):
    broken = FLOOR_3000.replace("      - fact: enterprises\n", "      - fact: [enterprises]\n", 1)
    assert broken != FLOOR_3000
    r = fresh_client.post("/v1/rulesets?file=floor.yaml", data=broken, headers=auth("regulator"))
    assert r.status_code == 422 and r.json["error"] == "invalid_ruleset", r.json
    [issue] = r.json["issues"]
    assert issue["file"] == "floor.yaml"
    assert broken.splitlines()[issue["line"] - 1].strip() == "- fact: [enterprises]"
