"""The versions of rulesets the service knows, and which ones judge a request.

Selection rules (contract evaluate-v1):

- explicit ``id@version`` pins win;
- otherwise every *active* version whose effective period overlaps the
  request's facts is used (an annual notice judges only its own year), except
  the versions of a draft instrument: a draft was never law, so it judges only
  when pinned (``policy.force``);
- timeless facts (enterprises, groups) are judged as of ``as_of``: a version
  whose period contains ``as_of`` is used too;
- a year of the facts that no active version of a ruleset covers is reported
  as a warning, so that "no violations" is never silently "nothing checked";
- if no version qualifies, every active version of an instrument in force is
  listed (each judges nothing outside its period), so the response always
  names what was consulted.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from collections.abc import Iterable, Mapping

from policy import periods
from policy.instruments import Instrument
from policy.loader import Issue, RulesetInvalid, load_ruleset_file
from policy.model import Ruleset

RULESETS_DIR = Path(__file__).resolve().parent.parent / "rulesets"


class UnknownRuleset(LookupError):
    """A pinned ``id@version`` the registry does not hold."""


def ruleset_files(directory: Path) -> list[Path]:
    """Ruleset YAML files: rulesets/<id>/<version>.yaml (instruments, sources, the scenario
    library and the ``<version>.scenarios.yaml`` files that test them excluded)."""
    skip = {"instruments", "sources", "scenarios"}
    return sorted(
        p for p in directory.glob("*/*.yaml") if p.parent.name not in skip and not p.name.endswith(".scenarios.yaml")
    )


def load_directory(directory: Path, instruments: Mapping[str, Instrument]) -> list[Ruleset]:
    """Load every ruleset file; raise RulesetInvalid with all issues of all files."""
    out, issues = [], []
    for path in ruleset_files(directory):
        try:
            out.append(load_ruleset_file(path, instruments, display=str(path.relative_to(directory.parent))))
        except RulesetInvalid as exc:
            issues.extend(exc.issues)
    if issues:
        raise RulesetInvalid(issues)
    return out


def _years(ruleset: Ruleset) -> tuple[int | None, int | None]:
    lo = dt.date.fromordinal(ruleset.effective_from).year if ruleset.effective_from else None
    hi = dt.date.fromordinal(ruleset.effective_to).year if ruleset.effective_to else None
    return lo, hi


def periods_overlap(a: Ruleset, b: Ruleset) -> bool:
    """Whether two versions' effective periods share a day (an open end is unbounded): :mod:`policy.periods`,
    the test the store applies when activating, so a preview and an activation retire the same versions."""
    return periods.periods_overlap(a.effective_from, a.effective_to, b.effective_from, b.effective_to)


def covers_year(ruleset: Ruleset, year: int) -> bool:
    lo, hi = _years(ruleset)
    return (lo is None or year >= lo) and (hi is None or year <= hi)


def covers_day(ruleset: Ruleset, day: dt.date) -> bool:
    n = day.toordinal()
    return (ruleset.effective_from is None or n >= ruleset.effective_from) and (
        ruleset.effective_to is None or n <= ruleset.effective_to
    )


class Registry:
    """An immutable snapshot of ruleset versions by ``id@version`` and their registry status.

    ``statuses`` (from the store) overrides each version's own ``status``
    (which is only the status a shipped file asks for when first loaded).
    A change makes a new snapshot: readers never see a half-applied switch.
    """

    def __init__(self, rulesets: Iterable[Ruleset] = (), statuses: Mapping[str, str] | None = None):
        self._versions: dict[str, Ruleset] = {}
        self._statuses = dict(statuses or {})
        for rs in rulesets:
            existing = self._versions.get(rs.ref)
            if existing is not None and existing.digest != rs.digest:
                raise RulesetInvalid(
                    [
                        Issue(
                            rs.path,
                            1,
                            1,
                            f"{rs.ref} already exists with other content: versions are immutable",
                            hint="give the new content a new version",
                        )
                    ]
                )
            self._versions[rs.ref] = rs

    def get(self, ref: str) -> Ruleset:
        try:
            return self._versions[ref]
        except KeyError:
            raise UnknownRuleset(ref) from None

    def status(self, ref: str) -> str:
        return self._statuses.get(ref) or self.get(ref).status

    def all(self) -> list[Ruleset]:
        return sorted(self._versions.values(), key=lambda r: (r.id, r.version))

    def active(self) -> list[Ruleset]:
        return [r for r in self.all() if self.status(r.ref) == "active"]

    def select(
        self, pins: list[str] | None, fact_years: set[int], as_of: dt.date | None = None
    ) -> tuple[list[Ruleset], list[dict]]:
        """The rulesets that judge a request, and warnings about years nothing covers."""
        if pins:
            return [self.get(p) for p in dict.fromkeys(pins)], []
        chosen, warnings = [], []
        by_id: dict[str, list[Ruleset]] = {}
        for rs in self.active():
            if rs.instrument_status != "draft":
                by_id.setdefault(rs.id, []).append(rs)
        for rid, versions in by_id.items():
            if not fact_years:
                chosen.extend(versions)
                continue
            used = [
                v
                for v in versions
                if any(covers_year(v, y) for y in fact_years) or (as_of is not None and covers_day(v, as_of))
            ]
            chosen.extend(used)
            for year in sorted(fact_years):
                if not any(covers_year(v, year) for v in versions):
                    warnings.append(
                        {
                            "code": "no_ruleset_for_year",
                            "ruleset": rid,
                            "year": year,
                            "message": {
                                "zh": f"没有适用于{year}年的{rid}规则集版本，该年度事实未按其评判",
                                "en": f"No active version of ruleset {rid} covers {year}; "
                                f"facts of that year were not judged under it",
                            },
                        }
                    )
        if not chosen:
            chosen = [v for versions in by_id.values() for v in versions]
        return chosen, warnings
