"""The scheduling rules where maestro_nb deliberately differs from the reference.

Each test pins one scenario of ``shared/conformance/README.md`` with values
worked out by hand; the comments show the arithmetic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import maestro_nb
from maestro_nb._tags import parse_tags


def schedule_of(**pipelines: dict[str, Any]) -> maestro_nb.Schedule:
    specs = [
        parse_tags(tags, name=name, path=Path(f"{name}.ipynb"))
        for name, tags in pipelines.items()
    ]
    return maestro_nb.Schedule(specs)


def check(tags: dict[str, Any], orch: str, at: str) -> pd.Series:
    table = schedule_of(p=tags).check(orch, at)
    return table.iloc[0]


def times(
    tags: dict[str, Any], start: str, end: str, n: int | None = None
) -> list[str]:
    table = schedule_of(p=tags).get_run_sequence(n, start, end)
    return [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in table["scheduled_time"]]


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


# --- Local wall times: gaps and overlaps -------------------------------------


def test_spring_forward_gap_runs_at_first_instant_after_gap() -> None:
    # New York, 2024-03-10: 02:00 EST jumps to 03:00 EDT, so 02:30 does not
    # exist that day and happens at 03:00 EDT (07:00Z), not 03:30 EDT.
    tags = {"frequency": "1 day", "startTime": "02:30:00", "tz": "America/New_York"}
    assert times(tags, "2024-03-09T00:00:00Z", "2024-03-11T23:00:00Z") == [
        "2024-03-09T07:30:00Z",  # 02:30 EST
        "2024-03-10T07:00:00Z",  # 03:00 EDT, the end of the gap
        "2024-03-11T06:30:00Z",  # 02:30 EDT
    ]


def test_fall_back_overlap_runs_once_at_first_occurrence() -> None:
    # New York, 2024-11-03: 01:30 happens at 05:30Z (EDT) and 06:30Z (EST).
    tags = {"frequency": "daily", "startTime": "01:30:00", "tz": "America/New_York"}
    assert times(tags, "2024-11-03T00:00:00Z", "2024-11-03T23:00:00Z") == [
        "2024-11-03T05:30:00Z"
    ]


def test_hourly_series_runs_in_both_passes_of_repeated_hour() -> None:
    # Elapsed hours from midnight EDT (04:00Z): 01:00 EDT and 01:00 EST both run.
    tags = {"frequency": "1 hour", "tz": "America/New_York"}
    assert times(tags, "2024-11-03T04:00:00Z", "2024-11-03T07:00:00Z") == [
        "2024-11-03T04:00:00Z",
        "2024-11-03T05:00:00Z",
        "2024-11-03T06:00:00Z",
        "2024-11-03T07:00:00Z",
    ]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(
            "2024-10-26T20:00:00Z",
            "2024-10-27T11:00:00Z",
            # 23:00 CEST on the 26th + 6 h = 04:00 CET on the 27th: the 25-hour
            # day holds one more point before the series restarts at 05:00 CET.
            [
                "2024-10-26T21:00:00Z",
                "2024-10-27T03:00:00Z",
                "2024-10-27T04:00:00Z",
                "2024-10-27T10:00:00Z",
            ],
            id="fall-back-25-hour-day",
        ),
        pytest.param(
            "2024-03-30T20:00:00Z",
            "2024-03-31T10:00:00Z",
            # 23:00 CET + 6 h = 06:00 CEST, past the restart at 05:00 CEST.
            ["2024-03-30T22:00:00Z", "2024-03-31T03:00:00Z", "2024-03-31T09:00:00Z"],
            id="spring-forward-23-hour-day",
        ),
    ],
)
def test_sub_daily_time_of_day_keeps_wall_clock_across_dst(
    start: str, end: str, expected: list[str]
) -> None:
    tags = {"frequency": "6 hours", "startTime": "05:00:00", "tz": "Europe/Paris"}
    assert times(tags, start, end) == expected


def test_day_steps_keep_time_of_day_across_dst() -> None:
    # Calendar days, not 86,400 s: 09:00 local stays 09:00 local.
    tags = {
        "frequency": "2 days",
        "startTime": "2024-03-08 09:00:00",
        "tz": "America/New_York",
    }
    assert times(tags, "2024-03-08T00:00:00Z", "2024-03-13T00:00:00Z") == [
        "2024-03-08T14:00:00Z",  # EST
        "2024-03-10T13:00:00Z",  # EDT from the 10th
        "2024-03-12T13:00:00Z",
    ]


# --- Calendar steps ---------------------------------------------------------


def test_month_end_is_clamped_and_counted_from_the_start_month() -> None:
    tags = {"frequency": "1 month", "startTime": "2024-01-31 00:00:00"}
    assert times(tags, "2024-01-01T00:00:00Z", "2024-05-31T00:00:00Z") == [
        "2024-01-31T00:00:00Z",
        "2024-02-29T00:00:00Z",
        "2024-03-31T00:00:00Z",  # not Mar 29: counted from January
        "2024-04-30T00:00:00Z",
        "2024-05-31T00:00:00Z",
    ]


def test_leap_day_yearly_falls_back_to_february_28() -> None:
    tags = {"frequency": "yearly", "startTime": "2024-02-29"}
    assert times(tags, "2024-01-01T00:00:00Z", "2028-12-31T00:00:00Z") == [
        "2024-02-29T00:00:00Z",
        "2025-02-28T00:00:00Z",
        "2026-02-28T00:00:00Z",
        "2027-02-28T00:00:00Z",
        "2028-02-29T00:00:00Z",
    ]


def test_no_start_multi_day_counts_from_the_epoch() -> None:
    # `2 days` without a start runs every other day from 2024-01-01, whatever
    # the check instant (the reference ran it daily).
    tags = {"frequency": "2 days"}
    assert times(tags, "2024-03-01T00:00:00Z", "2024-03-06T00:00:00Z") == [
        "2024-03-01T00:00:00Z",  # 60 days after 2024-01-01
        "2024-03-03T00:00:00Z",
        "2024-03-05T00:00:00Z",
    ]


def test_weekly_without_start_runs_on_mondays() -> None:
    assert times(
        {"frequency": "weekly"}, "2024-06-01T00:00:00Z", "2024-06-14T00:00:00Z"
    ) == [
        "2024-06-03T00:00:00Z",
        "2024-06-10T00:00:00Z",
    ]


# --- Partial anchors ----------------------------------------------------------


def test_biweekly_weekday_start_counts_weeks_from_the_epoch() -> None:
    tags = {"frequency": "biweekly", "startTime": "Fri 23:30:00"}
    assert times(tags, "2023-12-15T00:00:00Z", "2024-01-20T00:00:00Z") == [
        "2023-12-22T23:30:00Z",
        "2024-01-05T23:30:00Z",
        "2024-01-19T23:30:00Z",
    ]
    assert not check(tags, "1 hour", "2024-01-12T23:30:00Z")["is_due"]
    assert check(tags, "1 hour", "2024-01-19T23:30:00Z")["is_due"]


def test_quarterly_month_day_31_is_clamped() -> None:
    tags = {"frequency": "quarterly", "startTime": "31"}
    assert times(tags, "2024-01-01T00:00:00Z", "2024-12-31T23:00:00Z") == [
        "2024-01-31T00:00:00Z",
        "2024-04-30T00:00:00Z",
        "2024-07-31T00:00:00Z",
        "2024-10-31T00:00:00Z",
    ]


def test_weekday_point_of_last_week_rounds_into_this_weeks_slot() -> None:
    # Sunday 23:30 rounds to Monday 00:00 with a daily orchestrator; the check
    # on Monday runs it although the point belongs to the previous week.
    row = check(
        {"frequency": "weekly", "startTime": "Sun 23:30:00"},
        "1 day",
        "2024-01-08T00:00:00Z",
    )
    assert row["is_due"]
    assert row["scheduled_time"] == utc("2024-01-07T23:30:00Z")


def test_month_day_point_of_last_month_rounds_into_this_months_slot() -> None:
    # The 31st at 23:00 rounds to the 1st of the next month with an orchestrator
    # running daily.
    row = check(
        {"frequency": "monthly", "startTime": "31 23:00:00"},
        "1 day",
        "2024-05-01T00:10:00Z",
    )
    assert row["is_due"]
    assert row["scheduled_time"] == utc("2024-04-30T23:00:00Z")


# --- Rounding ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "is_due"),
    [
        pytest.param("2024-06-01T10:20:00Z", False, id="slot-10h-point-rounds-to-11h"),
        pytest.param("2024-06-01T10:30:00Z", True, id="exact-tie-goes-to-later-slot"),
        pytest.param("2024-06-01T10:31:00Z", True, id="point-after-check-same-slot"),
        pytest.param("2024-06-01T11:29:59Z", True, id="last-instant-of-slot"),
        pytest.param("2024-06-01T11:30:00Z", False, id="next-slot"),
    ],
)
def test_first_slot_rounding(at: str, is_due: bool) -> None:
    # The first point, 10:40, rounds to the 11:00 slot of an hourly orchestrator.
    tags = {"frequency": "1 day", "startTime": "2024-06-01 10:40:00"}
    row = check(tags, "1 hour", at)
    assert row["is_due"] == is_due
    if is_due:
        assert row["scheduled_time"] == utc("2024-06-01T10:40:00Z")
        assert row["slot"] == utc("2024-06-01T11:00:00Z")


def test_grid_in_a_half_hour_offset_zone() -> None:
    # Kolkata is UTC+05:30: the hourly grid falls on :30 UTC.
    row = check(
        {"frequency": "1 day", "startTime": "09:00:00", "tz": "Asia/Kolkata"},
        "1 hour",
        "2024-06-01T03:40:00Z",
    )
    assert row["is_due"]
    assert row["slot"] == utc("2024-06-01T03:30:00Z")


def test_lord_howe_half_hour_dst_shift() -> None:
    # Lord Howe moves its clocks by 30 minutes: 02:00 LHST (+10:30) becomes
    # 02:30 LHDT (+11) on 2024-10-06, so a daily 02:15 happens at 02:30 LHDT.
    tags = {"frequency": "1 day", "startTime": "02:15:00", "tz": "Australia/Lord_Howe"}
    assert times(tags, "2024-10-04T00:00:00Z", "2024-10-06T12:00:00Z") == [
        "2024-10-04T15:45:00Z",  # 02:15 on the 5th at +10:30
        "2024-10-05T15:30:00Z",  # the end of the gap, 02:30 at +11
    ]


def test_overlap_hour_is_two_slots_and_a_daily_point_runs_in_the_first() -> None:
    tags = {"frequency": "1 day", "startTime": "01:00:00", "tz": "America/New_York"}
    first = check(tags, "1 hour", "2024-11-03T05:10:00Z")  # 01:10 EDT
    second = check(tags, "1 hour", "2024-11-03T06:10:00Z")  # 01:10 EST
    assert first["is_due"] and first["slot"] == utc("2024-11-03T05:00:00Z")
    assert not second["is_due"] and second["slot"] == utc("2024-11-03T06:00:00Z")


def test_gap_grid_time_maps_to_end_of_gap() -> None:
    # 02:00 does not exist on 2024-03-10 in New York: the boundaries around
    # 06:40Z are 01:00 EST (06:00Z) and 03:00 EDT (07:00Z); 06:40Z is nearer
    # the latter.
    row = check(
        {"frequency": "1 hour", "tz": "America/New_York"},
        "1 hour",
        "2024-03-10T06:40:00Z",
    )
    assert row["slot"] == utc("2024-03-10T07:00:00Z")


# --- next_run -----------------------------------------------------------------


def test_next_run_is_the_rounded_slot_after_the_current_one() -> None:
    row = check(
        {"frequency": "1 day", "startTime": "12:40:00"},
        "1 hour",
        "2024-06-01T13:00:00Z",
    )
    assert row["is_due"]
    assert row["next_run"] == utc("2024-06-02T13:00:00Z")


def test_next_run_before_the_first_point_is_rounded() -> None:
    row = check(
        {"frequency": "1 day", "startTime": "2024-06-10 08:20:00"},
        "1 hour",
        "2024-06-01T00:00:00Z",
    )
    assert row["next_run"] == utc("2024-06-10T08:00:00Z")


def test_next_run_looks_far_ahead_through_filters() -> None:
    # A minutely pipeline limited to December, checked in January: months
    # ahead, found by jumping whole months rather than stepping minutes.
    row = check(
        {"frequency": "1 minute", "months": [12]}, "1 hour", "2024-01-15T00:00:00Z"
    )
    assert row["next_run"] == utc("2024-12-01T00:00:00Z")


def test_next_run_is_null_beyond_five_years() -> None:
    row = check(
        {"frequency": "1 day", "startTime": "2030-01-01"},
        "1 day",
        "2024-06-01T00:00:00Z",
    )
    assert pd.isna(row["next_run"])
    row = check(
        {"frequency": "1 day", "startTime": "2029-06-01"},
        "1 day",
        "2024-06-01T00:00:00Z",
    )
    assert row["next_run"] == utc("2029-06-01T00:00:00Z")


def test_skipped_pipeline_is_never_due_and_has_no_next_run() -> None:
    row = check({"frequency": "1 hour", "skip": ""}, "1 hour", "2024-06-01T00:00:00Z")
    assert not row["is_due"] and pd.isna(row["next_run"])


# --- Filters and order -------------------------------------------------------


def test_filters_apply_to_the_points_own_local_time() -> None:
    # Hour 23 Sydney time on Wednesdays only.
    tags = {
        "frequency": "1 hour",
        "tz": "Australia/Sydney",
        "hours": "23",
        "days": ["Wed"],
    }
    assert times(tags, "2024-06-01T00:00:00Z", "2024-06-14T00:00:00Z") == [
        "2024-06-05T13:00:00Z",  # Wed 23:00 AEST (+10)
        "2024-06-12T13:00:00Z",
    ]


def test_due_pipelines_run_by_priority_then_name() -> None:
    schedule = schedule_of(
        zeta={"frequency": "1 day", "priority": 1},
        alpha={"frequency": "1 day"},
        beta={"frequency": "1 day", "priority": "2"},
        gamma={"frequency": "1 day"},
    )
    table = schedule.check("1 day", "2024-06-01T00:00:00Z")
    assert table["pipe_name"].tolist() == ["zeta", "beta", "alpha", "gamma"]


@pytest.mark.parametrize(
    "tags",
    [
        pytest.param({"frequency": f"{10**20} {unit}"}, id=f"no-start-{unit}")
        for unit in ("days", "weeks", "months", "years")
    ]
    + [
        pytest.param(
            {"frequency": f"{10**20} days", "startTime": "2024-06-01"},
            id="full-start-days",
        ),
        pytest.param(
            {"frequency": f"{10**20} seconds", "startTime": "2024-06-01 00:00:00"},
            id="full-start-seconds",
        ),
        pytest.param(
            {"frequency": f"{10**20} months", "startTime": "15"}, id="month-day-months"
        ),
    ],
)
def test_huge_amounts_are_one_point_and_never_crash(tags: dict[str, Any]) -> None:
    # Any positive amount is valid; one too large to repeat within the
    # calendar leaves the first point alone.
    schedule = schedule_of(p=tags)
    sequence = times(tags, "2023-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    assert len(sequence) <= 1
    row = schedule.check("1 hour", "2024-06-01T00:00:00Z").iloc[0]
    assert row["pipe_name"] == "p"
    schedule.get_run_sequence(n=3, min_datetime="2024-01-01")


@pytest.mark.parametrize("frequency", ["48 hours", f"{10**20} seconds"])
def test_long_sub_daily_step_without_a_start_date_restarts_daily(
    frequency: str,
) -> None:
    # A sub-daily series without a full start restarts at every local
    # midnight, so a step longer than a day leaves one point a day (the
    # build warns about it); a full start date steps in elapsed time.
    assert times(
        {"frequency": frequency}, "2024-03-01T00:00:00Z", "2024-03-03T00:00:00Z"
    ) == ["2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z", "2024-03-03T00:00:00Z"]
    assert times(
        {"frequency": "48 hours", "startTime": "2024-03-01 00:00:00"},
        "2024-03-01T00:00:00Z",
        "2024-03-05T00:00:00Z",
    ) == ["2024-03-01T00:00:00Z", "2024-03-03T00:00:00Z", "2024-03-05T00:00:00Z"]
