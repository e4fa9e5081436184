"""orjson in the service gives the bytes and values the standard library gives.

Oracles: the standard library's ``json`` on the same objects or text (the
behaviour the service had before orjson), never the code under test.
"""

from __future__ import annotations

import json
import string
import sys
from pathlib import Path

import pytest
from flask.json.provider import DefaultJSONProvider
from hypothesis import given, settings, strategies as st

from helpers import ROOT
from policy import jsonio

EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


def stdlib_provider(app) -> DefaultJSONProvider:
    provider = DefaultJSONProvider(app)
    provider.sort_keys, provider.ensure_ascii = False, False
    return provider


def stdlib_compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def has_tiny_float(value) -> bool:
    """Whether a nonzero float below 1e-4 in magnitude is in ``value`` (the documented formatting difference)."""
    if isinstance(value, float):
        return 0 < abs(value) < 1e-4
    if isinstance(value, dict):
        return any(has_tiny_float(v) for v in value.values())
    if isinstance(value, list):
        return any(has_tiny_float(v) for v in value)
    return False


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_result_renders_as_the_standard_library_renders_it(app, path: Path):
    from api.evaluate_input import request_as_of, validate_request

    body = json.loads(path.read_text(encoding="utf-8"))
    data = validate_request(body, app.config["MAX_FACTS"])
    result = app.extensions["repolicy"].evaluate(
        data["facts"], request_as_of(data), data.get("rulesets"), decision_id="d-fixed"
    )
    with app.app_context():
        ours = app.json.response(result).get_data()
        theirs = stdlib_provider(app).response(result).get_data()
    assert result["violations"] or path.stem == "compliant-group"
    assert ours == theirs


@pytest.mark.parametrize("explain", ["", "?explain=unknowns,plain"])
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_response_bytes_are_the_standard_library_rendering(client, path: Path, explain: str):
    resp = client.post(f"/v1/evaluate{explain}", data=path.read_bytes(), content_type="application/json")
    assert resp.status_code == 200
    assert resp.data == stdlib_compact(json.loads(resp.data)) + b"\n"


MALFORMED = [
    b"{",
    b"[1,2,]",
    b'{"facts": NaN}',
    b'{"a": Infinity}',
    b"\xef\xbb\xbf{}",
    b'{"a" 1}',
    b"nul",
    b'"\\ud800"',
    b"1 2",
    b"[" * 5000 + b"]" * 5000,
    b'{"a": 01}',
    b"-",
    b"1.",
    b"\t",
]


@pytest.mark.parametrize("raw", MALFORMED, ids=lambda r: repr(r[:12]))
def test_malformed_body_error_is_the_standard_library_message(client, raw: bytes):
    resp = client.post("/v1/evaluate", data=raw, content_type="application/json")
    assert resp.status_code == 400
    if not raw.strip():  # nothing but whitespace: refused as an empty body before any parser sees it
        assert resp.get_json()["message"] == "empty body: send a JSON object"
        return
    try:
        json.loads(
            raw.decode("utf-8"),
            parse_constant=lambda name: (_ for _ in ()).throw(ValueError(f"{name} is not a JSON number")),
        )
    except RecursionError:
        assert resp.get_json()["message"] == "JSON nested too deeply"
    except ValueError as exc:
        assert resp.get_json()["message"] == f"body is not valid JSON: {exc}"
    else:
        assert resp.get_json()["message"] != ""  # valid JSON, refused later (not an object / invalid field)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_dumps_is_the_standard_library_compact_utf8_output(value):
    try:
        expected = stdlib_compact(value)
    except UnicodeEncodeError:  # lone surrogates: neither writes them as UTF-8
        with pytest.raises(UnicodeEncodeError):
            jsonio.dumps(value)
        return
    ours = jsonio.dumps(value)
    if has_tiny_float(value):  # written another way (0.000015 for 1.5e-05), read back the same
        assert json.dumps(json.loads(ours)) == json.dumps(json.loads(expected))
    else:
        assert ours == expected


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_loads_of_written_json_is_the_standard_library_value(value):
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        assert json.dumps(jsonio.loads(text)) == json.dumps(json.loads(text))


JSONISH = st.text(alphabet=string.digits + '[]{}":,.-+eE \t\nabnrtlsufNIy\\', max_size=30)


def outcome(fn, text):
    try:
        return "ok", json.dumps(fn(text))
    except RecursionError:
        return "recursion", None
    except ValueError as exc:
        return "error", str(exc)


@settings(max_examples=500, deadline=None)
@given(JSONISH | st.binary(max_size=20))
def test_loads_of_any_text_is_the_standard_library_value_or_error(text):
    assert outcome(jsonio.loads, text) == outcome(json.loads, text)


def test_deep_nesting_is_read_as_the_standard_library_reads_it():
    for depth in (1023, 1025, sys.getrecursionlimit() + 10):
        text = "[" * depth + "]" * depth
        assert outcome(jsonio.loads, text) == outcome(json.loads, text)


@pytest.mark.parametrize("kwargs", [{}, {"separators": (",", ":")}, {"indent": 2}, {"sort_keys": True}])
def test_provider_dumps_is_flasks_for_any_arguments(app, kwargs):
    value = {"b": [1, 2.5, "稀土", None], "a": {"x": True}}
    assert app.json.dumps(value, **kwargs) == stdlib_provider(app).dumps(value, **kwargs)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.integers(min_value=-(10**25), max_value=10**25) | st.text(string.digits, min_size=15, max_size=25),
        max_size=6,
    ),
    st.booleans(),
)
def test_long_digit_runs_are_read_as_the_standard_library_reads_them(items, as_bytes):
    """Integers around and beyond 64 bits (orjson reads those as floats) and digit runs in strings."""
    text = json.dumps(items)
    data = text.encode() if as_bytes else text
    got = jsonio.loads(data)
    assert got == json.loads(text) and [type(v) for v in got] == [type(v) for v in json.loads(text)]
