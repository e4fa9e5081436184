"""Settings from defaults, an optional TOML file and the environment (in that order), and decision retention."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from api import config as C
from api.retention import Retention
from helpers import example


def settings_from(tmp_path, text: str, **environ: str) -> C.Settings:
    """The settings a process would get with ``text`` as its config file and ``environ`` as its environment."""
    f = tmp_path / "repolicy.toml"
    f.write_text(text, encoding="utf-8")
    return C.load_settings({"REPOLICY_CONFIG_FILE": str(f), **environ})


def test_file_settings_apply_and_the_environment_wins(tmp_path):
    s = settings_from(tmp_path, "max_facts = 500\nopen_evaluate = true\nworkers = 3\ndecision_retention_days = 30\n")
    assert (s.max_facts, s.open_evaluate, s.workers, s.decision_retention_days) == (500, True, 3, 30.0)
    assert C.Settings().max_facts == 100_000 and s.threads == C.Settings().threads  # the rest: defaults
    s = settings_from(tmp_path, "max_facts = 500\n", REPOLICY_MAX_FACTS="700")
    assert s.max_facts == 700


def test_every_setting_may_be_put_in_the_file(tmp_path):
    """The README says any setting may go in the file: each one, written there, is read back."""
    values = {
        "int": 7,
        "int | None": 7,
        "float": 2.5,
        "bool": True,
        "bool | None": True,
        "str": "x",
        "pathlib.Path": "/srv/x",
        "pathlib.Path | None": "/srv/x",
        "str | None": "x",
    }
    choices = {f.name: f.metadata["choices"][-1] for f in C.FIELDS.values() if f.metadata["choices"]}
    for name, kind in C._TYPES.items():
        key = str(kind).replace("<class '", "").replace("'>", "")
        value = choices.get(name, values[key])
        literal = f'"{value}"' if isinstance(value, str) else str(value).lower()
        s = settings_from(tmp_path, f"{name} = {literal}\n")
        assert str(getattr(s, name)).lower() == str(value).lower(), name


def test_partition_settings_in_the_file_reach_the_engines(tmp_path):
    """The bug of issue 15: partition_min_facts in the file stopped start-up while importing the api."""
    from api import create_app

    s = settings_from(tmp_path, "partition_min_facts = 0\npartition_facts = 3\n")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "OPEN_EVALUATE": True}, s)
    runtime = app.extensions["repolicy"]
    assert {(e.layout.partition_min_facts, e.layout.partition_facts) for e in runtime._engines.values()} == {(0, 3)}
    r = app.test_client().post("/v1/evaluate", json=example("over-quota"))
    assert r.status_code == 200 and r.json["violations"]


@pytest.mark.parametrize(
    "text, environ, where, name",
    [
        ('databse_url = "sqlite://"\n', {}, "repolicy.toml", "databse_url"),
        ("", {"REPOLICY_MAX_FACT": "5"}, "environment variable REPOLICY_MAX_FACT", "max_fact"),
    ],
)
def test_an_unknown_setting_is_refused_naming_it_and_its_source(tmp_path, text, environ, where, name):
    with pytest.raises(C.ConfigError, match=f"{where}.*unknown setting '{name}'"):
        settings_from(tmp_path, text, **environ)


@pytest.mark.parametrize(
    "text, environ, where, name",
    [
        ('max_facts = "many"\n', {}, "repolicy.toml", "max_facts"),
        ("max_facts = 1.5\n", {}, "repolicy.toml", "max_facts"),
        ("", {"REPOLICY_OPEN_EVALUATE": "maybe"}, "environment variable REPOLICY_OPEN_EVALUATE", "open_evaluate"),
        ("", {"REPOLICY_DECISION_LOG": "everything"}, "", "decision_log"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_naming_the_setting(tmp_path, text, environ, where, name):
    with pytest.raises(C.ConfigError, match=f"{where}.*{name}"):
        settings_from(tmp_path, text, **environ)


def test_the_readme_table_is_the_settings_object():
    """README.md's table of settings is generated from the object (``python -m api.config``)."""
    readme = (C.PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    start = readme.index("| variable (file key) |")
    end = readme.index("\n\n", start)
    assert readme[start : end + 1] == C.settings_table(), "regenerate it: python -m api.config"
    named = set(re.findall(r"`REPOLICY_([A-Z_]+)`", readme[start:end]))
    assert named == {n.upper() for n in C.FIELDS} | {"CONFIG_FILE"}


def test_the_registry_poller_stops_and_its_thread_ends(tmp_path):
    from api import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "OPEN_EVALUATE": True, "RELOAD_INTERVAL": 0.05})
    poller = app.extensions["repolicy_poller"]
    assert not poller.running
    app.test_client().get("/healthz")  # the first request starts it
    assert poller.running
    thread = poller._thread
    poller.stop()
    assert not poller.running and not thread.is_alive()
    app.test_client().get("/healthz")  # a stopped poller stays stopped
    assert not poller.running


def test_retention_deletes_only_decisions_older_than_the_period(tmp_path):
    from api import create_app

    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "OPEN_EVALUATE": True, "DECISION_RETENTION_DAYS": 365}
    )
    client = app.test_client()
    ids = [client.post("/v1/evaluate", json=example("over-quota")).json["decision_id"] for _ in range(3)]
    decisions = app.extensions["repolicy_decisions"]
    assert decisions.flush() is not False
    store = app.extensions["repolicy"].store
    # two of them were made long ago
    from sqlalchemy import update
    from policy.store import decisions as table

    with store.engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.decision_id.in_(ids[:2]))
            .values(at=dt.datetime.now(dt.UTC) - dt.timedelta(days=400))
        )
    retention: Retention = app.extensions["repolicy_retention"]
    assert retention.maybe_purge() == 2
    assert retention.maybe_purge() == 0  # at most once per period of `every_s`
    assert store.decision(ids[0]) is None and store.decision(ids[2]) is not None


def test_no_period_keeps_everything(tmp_path):
    from policy.store import Store

    r = Retention(Store(f"sqlite:///{tmp_path / 'r.db'}"), 0)
    assert r.maybe_purge() == 0 and r.store is None
