"""Notice para 7: groups report by the 10th of each month, postponed over holidays (节假日顺延).

Dates checked against the State Council's published 2021 holiday arrangements.
"""

from __future__ import annotations

import datetime as dt

import pytest

from policy.functions import UnknownValue, add_working_days, next_working_day, to_day


def d(text: str) -> int:
    return to_day(dt.date.fromisoformat(text))


@pytest.mark.parametrize(
    "due,expected",
    [
        ("2021-10-10", "2021-10-11"),  # Sunday after the National Day holiday -> Monday
        ("2021-04-10", "2021-04-12"),  # Saturday -> Monday
        ("2021-01-10", "2021-01-11"),  # Sunday -> Monday
        ("2021-11-10", "2021-11-10"),  # Wednesday: no postponement
        ("2020-10-10", "2020-10-10"),  # Saturday, but an adjusted working day (调休上班)
        ("2021-10-01", "2021-10-08"),  # National Day holiday 1-7 October
    ],
)
def test_next_working_day(due, expected):
    assert next_working_day(d(due)) == d(expected)


def test_working_days_count_adjusted_saturday():
    # 2021-09-18 (Saturday) was a working day; 19-21 Sep Mid-Autumn, 1-7 Oct National Day
    assert add_working_days(d("2021-09-17"), 1) == d("2021-09-18")
    assert add_working_days(d("2021-09-17"), 10) == d("2021-10-08")


def test_years_the_calendar_does_not_cover_are_unknown():
    with pytest.raises(UnknownValue) as exc:
        next_working_day(d("2099-01-10"))
    assert exc.value.warning["code"] == "calendar_year_not_covered"


def report_case(client, period: str, submitted_on, as_of: str = "2022-01-31"):
    body = {
        "as_of": as_of,
        "rulesets": ["notice@2021"],
        "facts": {
            "groups": [{"id": "G1"}],
            "reports": [
                {
                    "reporter": "G1",
                    "level": "group",
                    "period": period,
                    "recipient": "miit",
                    "submitted_on": submitted_on,
                }
            ],
        },
    }
    r = client.post("/v1/evaluate", json=body)
    assert r.status_code == 200, r.json
    return [(v["rule"], v["details"]) for v in r.json["violations"]]


def test_report_on_the_postponed_due_day_is_on_time(client):
    # September data: the 10th of October 2021 is a Sunday -> due Monday 11 October
    assert report_case(client, "2021-09", "2021-10-11") == []
    assert report_case(client, "2021-09", "2021-10-12") == [
        ("reporting.group-monthly-late", {"due_on": "2021-10-11", "submitted_on": "2021-10-12", "days_late": 1})
    ]


def test_report_on_an_ordinary_10th(client):
    assert report_case(client, "2021-10", "2021-11-10") == []
    assert report_case(client, "2021-10", "2021-11-11")[0][0] == "reporting.group-monthly-late"


def test_december_data_is_due_in_january_of_the_next_year(client):
    assert report_case(client, "2021-12", "2022-01-10") == []
    assert report_case(client, "2021-12", "2022-01-11")[0][1]["due_on"] == "2022-01-10"


def test_missing_report_is_late_only_after_the_due_day(client):
    assert report_case(client, "2021-11", None, as_of="2021-12-10") == []
    assert report_case(client, "2021-11", None, as_of="2021-12-11") == [
        ("reporting.group-monthly-missing", {"due_on": "2021-12-10"})
    ]


def test_enterprise_level_reports_are_not_judged_by_para_7(client):
    body = {
        "as_of": "2021-12-31",
        "rulesets": ["notice@2021"],
        "facts": {
            "enterprises": [{"id": "E1"}],
            "reports": [{"reporter": "E1", "level": "enterprise", "period": "2021-09", "submitted_on": "2021-10-20"}],
        },
    }
    assert client.post("/v1/evaluate", json=body).json["violations"] == []
