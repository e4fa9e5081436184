"""Configuration from an optional TOML file (the environment wins), and decision retention."""
from __future__ import annotations

import datetime as dt

import pytest

from api import config as C
from api.retention import Retention
from helpers import example


@pytest.fixture(autouse=True)
def _fresh_cache():
    C._file_settings.cache_clear()
    yield
    C._file_settings.cache_clear()


def test_file_settings_apply_and_the_environment_wins(tmp_path, monkeypatch):
    f = tmp_path / "repolicy.toml"
    f.write_text('max_facts = 500\nopen_evaluate = true\nworkers = 3\ndecision_retention_days = 30\n')
    monkeypatch.setenv("REPOLICY_CONFIG_FILE", str(f))
    cfg = C.load_config()
    assert cfg["MAX_FACTS"] == 500 and cfg["OPEN_EVALUATE"] is True and cfg["DECISION_RETENTION_DAYS"] == 30
    assert C.setting("REPOLICY_WORKERS") == "3"
    monkeypatch.setenv("REPOLICY_MAX_FACTS", "700")
    assert C.load_config()["MAX_FACTS"] == 700


def test_an_unknown_setting_in_the_file_is_an_error(tmp_path, monkeypatch):
    f = tmp_path / "repolicy.toml"
    f.write_text('databse_url = "sqlite://"\n')
    monkeypatch.setenv("REPOLICY_CONFIG_FILE", str(f))
    with pytest.raises(C.ConfigError, match="unknown setting.*databse_url"):
        C.load_config()


def test_retention_deletes_only_decisions_older_than_the_period(tmp_path):
    from api import create_app
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "OPEN_EVALUATE": True,
                      "DECISION_RETENTION_DAYS": 365})
    client = app.test_client()
    ids = [client.post("/v1/evaluate", json=example("over-quota")).json["decision_id"] for _ in range(3)]
    decisions = app.extensions["repolicy_decisions"]
    assert decisions.flush() is not False
    store = app.extensions["repolicy"].store
    # two of them were made long ago
    from sqlalchemy import update
    from policy.store import decisions as table
    with store.engine.begin() as conn:
        conn.execute(update(table).where(table.c.decision_id.in_(ids[:2]))
                     .values(at=dt.datetime.now(dt.UTC) - dt.timedelta(days=400)))
    retention: Retention = app.extensions["repolicy_retention"]
    assert retention.maybe_purge() == 2
    assert retention.maybe_purge() == 0  # at most once per period of `every_s`
    assert store.decision(ids[0]) is None and store.decision(ids[2]) is not None


def test_no_period_keeps_everything(tmp_path):
    from policy.store import Store
    r = Retention(Store(f"sqlite:///{tmp_path / 'r.db'}"), 0)
    assert r.maybe_purge() == 0 and r.store is None
