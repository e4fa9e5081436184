"""The audit trail says what happened: which version was retired, what served the period before, and when
(with its time zone)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings, strategies as st

from policy.store import Store


def add(store: Store, version: str, year: int, digest: str, status: str = "draft") -> None:
    store.add_version(
        ruleset_id="notice",
        version=version,
        status=status,
        instrument="notice-2021",
        legal_status="in_force",
        effective_from=f"{year}-01-01",
        effective_to=f"{year}-12-31",
        source=f"version {version}",
        digest=digest,
        author="wang",
    )


def test_activation_names_the_retired_version_once_and_its_digest(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    add(store, "2020", 2020, "sha256:a2020", status="active")  # another year: stays active, unrelated
    add(store, "2021", 2021, "sha256:a2021", status="active")
    add(store, "2021-fix", 2021, "sha256:b2021")
    assert store.activate("notice", "2021-fix", "wang", "corrected") == ["notice@2021"]
    activation = [e for e in store.audit() if e["action"] == "activate"][-1]
    assert activation["detail"] == "corrected (retired notice@2021)"
    assert activation["digest_before"] == "sha256:a2021" and activation["digest_after"] == "sha256:b2021"


def test_activating_beside_an_unrelated_year_has_no_digest_before(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    add(store, "2020", 2020, "sha256:a2020", status="active")
    add(store, "2022", 2022, "sha256:a2022")
    assert store.activate("notice", "2022", "wang") == []
    activation = [e for e in store.audit() if e["action"] == "activate"][-1]
    assert activation["digest_before"] is None and "retired" not in (activation["detail"] or "")


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(min_value=2018, max_value=2024), min_size=1, max_size=5))
def test_digest_before_is_always_that_of_a_version_of_the_same_period(tmp_path_factory, years):
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('r') / 'r.db'}")
    for i, year in enumerate(years):
        add(store, f"v{i}", year, f"sha256:{i}-{year}")
        store.activate("notice", f"v{i}", "wang")
    for entry in store.audit():
        if entry["action"] == "activate" and entry["digest_before"]:
            before_year = entry["digest_before"].rsplit("-", 1)[1]
            after_year = entry["digest_after"].rsplit("-", 1)[1]
            assert before_year == after_year
            assert entry["detail"].count("notice@") == 1 and "notice@notice@" not in entry["detail"]


def test_audit_times_carry_their_time_zone(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    add(store, "2021", 2021, "sha256:a")
    [entry] = store.audit()
    at = dt.datetime.fromisoformat(entry["at"])
    assert at.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - at) < dt.timedelta(minutes=5)
