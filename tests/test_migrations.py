"""Migrations: a database made by the release before migrations (its ``create_all`` schema, frozen as SQL in
tests/fixtures/previous-release/) keeps its rows through the upgrade, on SQLite and PostgreSQL; a new
database and an upgraded one both end with exactly the schema the store declares; several processes
starting at once on one new database upgrade it once."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from pg import Postgres

ROOT = Path(__file__).resolve().parents[1]
DUMPS = Path(__file__).parent / "fixtures" / "previous-release"
_names = itertools.count()


@pytest.fixture(scope="module")
def pg():
    server = Postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(request, tmp_path):
    """The URL of an empty database of the backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    server = request.getfixturevalue("pg")
    name = f"m{next(_names)}"
    admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server.url.rsplit("/", 1)[0] + "/" + name


def _previous_release(url: str) -> None:
    """Make the database as the previous release did, and put rows in every table (plain SQL)."""
    engine = create_engine(url)
    dump = (DUMPS / f"{engine.dialect.name}.sql").read_text()
    at = dt.datetime(2025, 3, 1, 8, 30, tzinfo=dt.UTC)
    with engine.begin() as conn:
        for statement in dump.split(";\n"):
            body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
            if body:
                conn.execute(text(body))
        conn.execute(text("INSERT INTO registry_generation (id, value) VALUES (1, 7)"))
        conn.execute(
            text(
                "INSERT INTO ruleset_versions (ruleset_id, version, status, instrument, legal_status, effective_from, "
                "effective_to, source, digest, author, created_at, comment) VALUES ('notice', '2021', 'active', "
                "'notice-2021', 'in_force', '2021-01-01', NULL, 'ruleset: notice', 'sha256:aa', 'shipped', :at, "
                "'首次发布')"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, ruleset_id, version, digest_before, digest_after, detail) "
                "VALUES (:at, 'shipped', 'publish', 'notice', '2021', NULL, 'sha256:aa', 'shipped file')"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO decisions (decision_id, at, caller, as_of, rulesets, input, input_digest, result, "
                "violations) VALUES ('d-1', :at, 'caller-1', '2025-03-01', :rulesets, :input, 'sha256:bb', "
                ":result, 1)"
            ),
            {
                "at": at,
                "rulesets": json.dumps([{"id": "notice", "version": "2021", "digest": "sha256:aa"}]),
                "input": json.dumps({"facts": {"enterprises": [{"id": "E1", "名称": "稀土"}]}}, ensure_ascii=False),
                "result": json.dumps({"decision_id": "d-1", "violations": [{"rule": "r1"}]}),
            },
        )
        conn.execute(
            text(
                "INSERT INTO rule_approvals (ruleset_id, version, rule_id, rule_digest, reviewer, at, comment) "
                "VALUES ('notice', '2021', 'r1', 'sha256:cc', 'lawyer', :at, 'ok')"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO activation_overrides (ruleset_id, version, rule_id, rule_digest, actor, at, reason) "
                "VALUES ('notice', '2021', 'r2', 'sha256:dd', 'regulator', :at, 'urgent')"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO instrument_revisions (instrument_id, revision, legal_status, text_available, source, "
                "digest, author, created_at, comment) VALUES ('notice-2021', 1, 'in_force', 1, 'text', 'sha256:ee', "
                "'clerk', :at, NULL)"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO impact_jobs (job_id, created_at, updated_at, actor, candidate, status, total, done, "
                "result, error) VALUES ('j-1', :at, :at, 'regulator', 'notice@2022', 'done', 3, 3, '{}', NULL)"
            ),
            {"at": at},
        )
    engine.dispose()


def _schema_difference(url: str) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from policy.store import metadata

    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    return diff


def _revisions(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
    engine.dispose()
    return rows


def test_previous_release_database_keeps_its_rows(new_database):
    from policy.migrations import head
    from policy.store import Store, impact_job

    _previous_release(new_database)
    store = Store(new_database)
    assert _revisions(new_database) == [head()]
    assert store.generation() == 7
    [version] = store.all_versions()
    assert (version.ref, version.status, version.effective_from, version.comment) == (
        "notice@2021",
        "active",
        "2021-01-01",
        "首次发布",
    )
    assert version.created_at == dt.datetime(2025, 3, 1, 8, 30, tzinfo=dt.UTC)
    assert [(a["action"], a["ruleset"]) for a in store.audit()] == [("publish", "notice@2021")]
    decision = store.decision("d-1")
    assert decision["input"] == {"facts": {"enterprises": [{"id": "E1", "名称": "稀土"}]}}
    assert decision["result"]["violations"] == [{"rule": "r1"}] and decision["caller"] == "caller-1"
    assert [a["reviewer"] for a in store.approvals("notice")] == ["lawyer"]
    assert [o["reason"] for o in store.overrides("notice")] == ["urgent"]
    assert [r.digest for r in store.instrument_revisions("notice-2021")] == ["sha256:ee"]
    assert impact_job(store, "j-1")["status"] == "done"
    assert _schema_difference(new_database) == []
    # and the upgraded database works on: a second start changes nothing, writes go on
    again = Store(new_database)
    assert again.add_version(
        ruleset_id="notice",
        version="2022",
        status="draft",
        instrument="notice-2021",
        legal_status="in_force",
        effective_from="2022-01-01",
        effective_to=None,
        source="ruleset: notice",
        digest="sha256:ff",
        author="clerk",
    )
    assert again.generation() == 8 and _revisions(new_database) == [head()]


def test_new_database_has_the_declared_schema(new_database):
    from policy.migrations import head
    from policy.store import Store

    assert Store(new_database).generation() == 0
    assert _revisions(new_database) == [head()]
    assert _schema_difference(new_database) == []


def test_workers_starting_together_upgrade_once(new_database):
    """Four processes open the same new database at once: every one starts, the schema is made once."""
    code = "import sys; from policy.store import Store; Store(sys.argv[1]); print('ok')"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, new_database],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-2000:] for _, err in outcomes]
    from policy.migrations import head

    assert _revisions(new_database) == [head()]
    engine = create_engine(new_database)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*), max(value) FROM registry_generation")).one() == (1, 0)
    engine.dispose()
