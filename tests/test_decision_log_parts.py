"""The decision log's parts, each alone: the encoder (api.decision_encoding), the queue (api.decision_queue)
and the writer with its retry schedule and quarantine (api.decision_writer), on a real SQLite store."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import create_engine

from api.decision_encoding import queued, read_shape, table_row
from api.decision_queue import DecisionQueue
from api.decision_writer import Backoff, Quarantine, connection_trouble, insert
from helpers import pg_unreachable_url
from policy.store import Store

AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)  # what a body that parsed can hold
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**15), 10**15) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=8,
)
bodies = st.fixed_dictionaries({"facts": st.dictionaries(text, json_values, max_size=3)})


def result_of(decision_id: str, violations: int = 1) -> dict:
    return {
        "decision_id": decision_id,
        "as_of": "2021-12-31",
        "summary": {"violations": violations},
        "violations": [{"rule": f"r{n}", "message": "超出总量控制指标"} for n in range(violations)],
        "rulesets": [{"id": "notice", "version": "2021", "digest": "sha256:x", "title": "通知"}],
    }


def as_sent(value, rng: random.Random) -> bytes:
    """JSON bytes as some client might write them: spaces or not, escapes or UTF-8."""
    return json.dumps(
        value, ensure_ascii=rng.random() < 0.5, separators=(", ", ": ") if rng.random() < 0.5 else (",", ":")
    ).encode("utf-8")


# ---------------------------------------------------------------------------------------------- encoder


@given(body=bodies, full=st.booleans(), seed=st.integers(0, 2**32))
def test_a_row_stores_the_bytes_received_and_sent_and_digests_what_was_received(body, full, seed):
    rng = random.Random(seed)
    result = result_of("d1", rng.randrange(3))
    received, sent = as_sent(body, rng), as_sent(result, rng)
    row = table_row(
        queued(
            decision_id="d1",
            at=AT,
            caller="c",
            result=result,
            keep_input=full,
            body=body,
            body_bytes=received,
            response_bytes=sent,
        )
    )
    assert row["input_digest"] == "sha256:" + hashlib.sha256(received).hexdigest()
    assert row["input"] == (received.decode("utf-8") if full else None)
    assert row["result"] == sent.decode("utf-8") and json.loads(row["result"]) == result
    assert json.loads(row["rulesets"]) == [{"id": "notice", "version": "2021", "digest": "sha256:x"}]
    assert row["violations"] == len(result["violations"]) and row["as_of"] == "2021-12-31"
    assert table_row(row) is row  # encoded once: a retried row is not encoded again


@given(body=bodies)
def test_without_bytes_the_objects_are_written_and_the_digest_is_of_the_canonical_json(body):
    result = result_of("d2")
    row = table_row(queued(decision_id="d2", at=AT, caller=None, result=result, keep_input=True, body=body))
    assert json.loads(row["input"]) == body and json.loads(row["result"]) == result
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert row["input_digest"] == "sha256:" + hashlib.sha256(canonical).hexdigest()


def test_what_json_cannot_hold_raises_for_the_quarantine():
    for body in ({"facts": {"e": [{"name": "\ud800"}]}}, {"facts": {"e": [{"tags": {1, 2}}]}}):
        with pytest.raises((TypeError, ValueError)):
            table_row(queued(decision_id="d3", at=AT, caller=None, result=result_of("d3"), keep_input=True, body=body))


def test_a_queued_decision_reads_as_the_store_reads_it(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    body, result = {"facts": {"enterprises": [{"id": "E1", "name": "包头稀土"}]}}, result_of("d4", 2)
    waiting = queued(
        decision_id="d4",
        at=AT,
        caller="c",
        result=result,
        keep_input=True,
        body=body,
        body_bytes=json.dumps(body, indent=2).encode(),
        response_bytes=json.dumps(result).encode(),
    )
    store.record_decisions([table_row(waiting)])
    assert read_shape(waiting) == store.decision("d4")
    assert store.decision("d4")["input"] == body and store.decision("d4")["result"] == result


# ---------------------------------------------------------------------------------------------- queue


def _row(n: int) -> dict:
    return {"decision_id": f"d{n}"}


@given(
    ops=st.lists(st.sampled_from(["append", "take", "put_back", "written"]), max_size=60),
    max_pending=st.integers(1, 8),
    batch=st.integers(1, 4),
)
def test_queue_keeps_order_bound_and_every_row_findable_until_written(ops, max_pending, batch):
    """Against a plain model: a list of waiting ids, the ids in flight, the ids dropped and written."""
    queue = DecisionQueue(max_pending)
    waiting: list[str] = []
    flight: list[str] = []
    dropped: list[str] = []
    written: list[str] = []
    n = 0
    for op in ops:
        if op == "append":
            queue.append(_row(n))
            waiting.append(f"d{n}")
            n += 1
            over = min(max(0, len(waiting) + len(flight) - max_pending), len(waiting))
            expected_drop, waiting = waiting[:over], waiting[over:]
            assert queue.overflow() == expected_drop
            dropped += expected_drop
        elif op == "take" and not flight:
            taken = [r["decision_id"] for r in queue.take(batch)]
            flight, waiting = waiting[:batch], waiting[batch:]
            assert taken == flight
        elif op == "put_back":
            queue.put_back()
            waiting, flight = flight + waiting, []
        elif op == "written":
            queue.written()
            written += flight
            flight = []
        assert [r["decision_id"] for r in queue] == flight + waiting
        assert len(queue) == len(flight) + len(waiting) and queue.waiting == len(waiting)
        assert all(queue.find(i) is not None for i in flight + waiting)
        assert all(queue.find(i) is None for i in dropped + written)
    assert sorted(dropped + written + flight + waiting, key=lambda i: int(i[1:])) == [f"d{k}" for k in range(n)]
    assert queue.drain() == flight + waiting and queue.waiting == 0


# ---------------------------------------------------------------------------------------------- writer


def test_backoff_doubles_while_writes_fail_up_to_its_ceiling_and_resets_on_success():
    backoff = Backoff(0.2, 1.0)
    assert [backoff.after(False) for _ in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    assert backoff.after(True) == 0.0 and backoff.after(False) == 0.2


def _table_row(decision_id: str) -> dict:
    return table_row(
        queued(
            decision_id=decision_id,
            at=AT,
            caller=None,
            result=result_of(decision_id),
            keep_input=True,
            body={"facts": {}},
        )
    )


def test_insert_writes_around_a_refused_row_and_a_row_already_there(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    quarantine = Quarantine(tmp_path / "spool")
    store.record_decisions([_table_row("there")])  # committed before, its acknowledgement lost
    refused = {**_table_row("refused"), "result": None}  # the database refuses NULL there
    insert(store, [_table_row("a"), _table_row("there"), refused, _table_row("b")], quarantine)
    assert {d for d in ("a", "b", "there", "refused") if store.decision(d)} == {"a", "b", "there"}
    assert quarantine.count == 1
    [kept] = [json.loads(line) for line in (tmp_path / "spool").glob("quarantine-*.jsonl").__next__().open()]
    assert kept["decision_id"] == "refused" and "IntegrityError" in kept["error"]


def test_connection_trouble_is_raised_for_retry_and_quarantines_nothing(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    store.engine = create_engine(pg_unreachable_url())  # the database went away
    quarantine = Quarantine(None)
    with pytest.raises(Exception) as raised:
        insert(store, [_table_row("a"), _table_row("b")], quarantine)
    assert connection_trouble(raised.value) and quarantine.count == 0


def test_quarantine_keeps_any_text_escaped(tmp_path):
    quarantine = Quarantine(tmp_path)
    row = {"decision_id": "s", "at": AT, "_body": {"name": "\ud800"}, "_body_bytes": b"\xff"}
    assert quarantine.keep(row, UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"))
    [line] = (tmp_path / next(p.name for p in tmp_path.glob("quarantine-*"))).read_text("ascii").splitlines()
    assert json.loads(line)["record"]["_body"]["name"] == "\ud800"
    assert Quarantine(None).keep(row, ValueError("x")) is False
