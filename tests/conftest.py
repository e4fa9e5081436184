"""Fixtures (the project's instruments, shipped rulesets, the app and its clients, engines), the hypothesis
profiles, and the test tiers.

Helpers and constants the tests share live in ``tests/helpers.py`` (see its docstring for where test
code goes); this module holds only what pytest itself calls.

Tiers (markers, registered in setup.cfg): ``server`` (starts gunicorn / ``repolicy-serve``), ``postgres``
(starts a PostgreSQL server), ``browser`` (drives Chromium), ``unit`` (none of these: in-process only).
They are given here, by what a test starts (see :func:`pytest_collection_modifyitems`), so a new test
is placed in its tier without a decorator.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, settings  # noqa: E402

from helpers import token_config  # noqa: E402
from policy.instruments import load_instruments  # noqa: E402
from policy.registry import RULESETS_DIR, load_directory  # noqa: E402

# Property tests that do not fix their own number of examples run 100 each by default (a few hundred
# in all: fast enough for every run); `pytest --hypothesis-profile=long` runs 2,000 each (README).
# Under pytest-xdist the example database is off: workers would write the same directory at once, and
# a failing example is printed (with its seed) in the report anyway.
_IN_WORKER = "PYTEST_XDIST_WORKER" in os.environ
_DATABASE = {"database": None} if _IN_WORKER else {}
settings.register_profile(
    "long",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    **_DATABASE,
)
if _IN_WORKER:
    settings.register_profile("xdist-worker", database=None)
    settings.load_profile("xdist-worker")  # --hypothesis-profile, if given, is loaded after this


_owned_by_fixtures: set[int] = set()  # serials of the registry pollers made by a fixture's setup


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    """An app made by a fixture has its registry poller stopped (thread joined) when that fixture ends."""
    from api import reload

    before = reload.last_serial()
    yield
    made = set(range(before + 1, reload.last_serial() + 1))
    if made:
        _owned_by_fixtures.update(made)
        fixturedef.addfinalizer(lambda: reload.stop_serials(made))


@pytest.fixture(autouse=True)
def stop_pollers_of_test():
    """An app made in a test's body has its registry poller stopped (thread joined) after the test."""
    from api import reload

    before = reload.last_serial()
    yield
    reload.stop_serials(set(range(before + 1, reload.last_serial() + 1)) - _owned_by_fixtures)


# ---------------------------------------------------------------------------------------------- tiers

# What a test (or a fixture it uses, or a function of its module either calls) names to start a process,
# and the tier that puts it in.
_STARTS = {"Server": "server", "dev_server": "server", "Postgres": "postgres", "sync_playwright": "browser"}
TIERS = ("server", "postgres", "browser")


def _names(func, module: types.ModuleType, seen: set) -> set[str]:
    """Global names ``func`` refers to, following the functions of ``module`` it calls (transitively)."""
    code = getattr(func, "__code__", None)
    if code is None or code in seen:
        return set()
    seen.add(code)
    names: set[str] = set()
    stack = [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    for name in list(names):
        target = getattr(module, name, None)
        if isinstance(target, types.FunctionType) and target.__module__ == module.__name__:
            names |= _names(target, module, seen)
    return names


def _tiers(item: pytest.Item) -> set[str]:
    funcs = [(item.function, item.module)] if isinstance(item, pytest.Function) else []
    info = getattr(item, "_fixtureinfo", None)
    for defs in info.name2fixturedefs.values() if info else ():
        for fixturedef in defs:
            func = getattr(fixturedef.func, "__wrapped__", fixturedef.func)
            module = sys.modules.get(getattr(func, "__module__", ""))
            if module is not None:
                funcs.append((func, module))
    names: set[str] = set()
    for func, module in funcs:
        names |= _names(func, module, set())
    return {_STARTS[n] for n in names if n in _STARTS}


@pytest.hookimpl(tryfirst=True)  # before -m selects by the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier: what it (or its fixtures) starts, or ``unit``."""
    for item in items:
        found = _tiers(item) | {t for t in TIERS if item.get_closest_marker(t)}
        for tier in sorted(found) or ["unit"]:
            item.add_marker(tier)


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def instruments():
    return load_instruments()


@pytest.fixture(scope="session")
def shipped(instruments):
    return {rs.ref: rs for rs in load_directory(RULESETS_DIR, instruments)}


@pytest.fixture(scope="module")
def engines(shipped):
    """One durable_rules engine per shipped ruleset, shared by a module's tests."""
    from engine import Engine

    built = {ref: Engine(rs) for ref, rs in shipped.items()}
    yield built
    for e in built.values():
        e.close()


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """The service on a fresh SQLite registry, evaluation open (as bin/serve runs it)."""
    from api import create_app

    db = tmp_path_factory.mktemp("registry") / "repolicy.db"
    return create_app({"DATABASE_URL": f"sqlite:///{db}", "OPEN_EVALUATE": True, "TOKENS": token_config()})


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def fresh_app(tmp_path):
    """The service on a registry of the test's own (for tests that publish, activate or sign off)."""
    from api import create_app

    return create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "OPEN_EVALUATE": True, "TOKENS": token_config()}
    )


@pytest.fixture()
def fresh_client(fresh_app):
    return fresh_app.test_client()


@pytest.fixture(scope="session")
def contract_schemas():
    import json

    base = ROOT / "tests" / "contract"
    return {
        name: json.loads((base / f"evaluate-v1.{name}.schema.json").read_text()) for name in ("request", "response")
    }
