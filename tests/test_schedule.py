"""Building a schedule from a folder of notebooks, and asking it questions."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from notebook_factory import write_pipeline

import maestro_nb


@pytest.fixture
def project(tmp_path: Path) -> Path:
    pipelines = tmp_path / "pipelines"
    write_pipeline(
        pipelines,
        "hourly_prices",
        {"frequency": "1 hour", "priority": 1},
        source="region = 'north'\nlimit: int = 3",
    )
    write_pipeline(
        pipelines / "weather",
        "daily_weather",
        {"frequency": "1 day", "startTime": "12:30:00", "tz": "Europe/Paris"},
    )
    return pipelines


def test_notebooks_are_read_recursively_in_run_order(project: Path) -> None:
    schedule = maestro_nb.build_schedule(project, quiet=True)
    assert list(schedule.pipelines) == ["hourly_prices", "daily_weather"]
    assert schedule.pipeline("hourly_prices").declared_parameters == {"region", "limit"}


def test_checkpoints_hidden_and_output_folders_are_not_pipelines(
    project: Path,
) -> None:
    write_pipeline(project / ".ipynb_checkpoints", "hourly_prices-checkpoint", {})
    write_pipeline(project / ".hidden", "secret", {})
    write_pipeline(project / "runs" / "hourly_prices", "executed_copy", {})

    schedule = maestro_nb.build_schedule(
        project, quiet=True, output_dir=project / "runs"
    )

    assert sorted(schedule.pipelines) == ["daily_weather", "hourly_prices"]
    assert schedule.build_errors == []


def test_one_bad_notebook_never_stops_the_others(project: Path) -> None:
    (project / "broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    write_pipeline(project, "untagged", None)
    write_pipeline(project, "bad_tag", {"frequency": "sometimes"})

    schedule = maestro_nb.build_schedule(project, quiet=True)

    assert sorted(schedule.pipelines) == ["daily_weather", "hourly_prices"]
    errors = schedule.last_build_errors().set_index("pipe_name")
    assert "not valid JSON" in errors.loc["broken", "message"]
    assert "no 'maestro' metadata" in errors.loc["untagged", "message"]
    assert errors.loc["bad_tag", "tag"] == "frequency"
    assert str(project / "bad_tag.ipynb") in errors.loc["bad_tag", "message"]


def test_duplicate_names_are_errors_naming_both_files(project: Path) -> None:
    write_pipeline(project / "other", "daily_weather", {})

    schedule = maestro_nb.build_schedule(project, quiet=True)

    assert list(schedule.pipelines) == ["hourly_prices"]
    messages = schedule.last_build_errors()["message"].tolist()
    assert len(messages) == 2
    assert all("must be unique" in message for message in messages)
    assert str(project / "other" / "daily_weather.ipynb") in messages[1]


def test_build_prints_a_summary_unless_quiet(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_pipeline(project, "bad_tag", {"frequency": "sometimes"})
    maestro_nb.build_schedule(project)
    printed = capsys.readouterr().out
    assert "2 of 3 pipelines scheduled" in printed and "bad_tag.ipynb" in printed

    maestro_nb.build_schedule(project, quiet=True)
    assert capsys.readouterr().out == ""


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(maestro_nb.ScheduleBuildError, match="does not exist"):
        maestro_nb.build_schedule(tmp_path / "nowhere")


def test_get_schedule_has_one_row_per_pipeline(project: Path) -> None:
    table = maestro_nb.get_schedule(maestro_nb.build_schedule(project, quiet=True))
    row = table.set_index("pipe_name").loc["daily_weather"]
    assert row["frequency_n"] == 1 and row["frequency_unit"] == "day"
    assert row["start_time"] == "12:30:00" and row["tz"] == "Europe/Paris"
    assert table.loc[0, "priority"] == 1


@pytest.mark.parametrize(
    "instant",
    [
        pytest.param("2024-06-01T10:30:00Z", id="iso-z"),
        pytest.param("2024-06-01 12:30:00+02:00", id="iso-offset"),
        pytest.param("2024-06-01T10:30:00", id="naive-iso-is-utc"),
        pytest.param(datetime(2024, 6, 1, 10, 30, tzinfo=timezone.utc), id="datetime"),
        pytest.param(pd.Timestamp("2024-06-01 10:30", tz="UTC"), id="timestamp"),
    ],
)
def test_check_datetime_forms(project: Path, instant: object) -> None:
    table = maestro_nb.check_schedule(
        maestro_nb.build_schedule(project, quiet=True), "1 hour", instant
    )
    assert table["pipe_name"].tolist() == ["hourly_prices", "daily_weather"]
    assert table["is_due"].tolist() == [True, True]  # 12:30 Paris = 10:30Z
    assert table.loc[1, "scheduled_time"] == pd.Timestamp("2024-06-01T10:30Z")
    assert str(table["next_run"].dt.tz) == "UTC"


def test_bad_check_datetime_is_a_clear_error(project: Path) -> None:
    schedule = maestro_nb.build_schedule(project, quiet=True)
    with pytest.raises(ValueError, match="not an ISO-8601 instant"):
        maestro_nb.check_schedule(schedule, "1 hour", "yesterday")

    for far in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"):
        with pytest.raises(ValueError, match="years 2 to 9990"):
            maestro_nb.check_schedule(schedule, "1 hour", far)


def test_environment_overrides_check_datetime(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAESTRO_CHECK_DATETIME", "2024-06-01T03:00:00Z")
    table = maestro_nb.check_schedule(
        maestro_nb.build_schedule(project, quiet=True), "1 hour", "2024-06-01T10:30:00Z"
    )
    assert table["is_due"].tolist() == [True, False]


def test_unknown_pipeline_is_a_lookup_error(project: Path) -> None:
    schedule = maestro_nb.build_schedule(project, quiet=True)
    with pytest.raises(LookupError, match="no pipeline named 'nope'"):
        schedule.pipeline("nope")


def test_run_sequence_is_in_time_order_then_run_order(project: Path) -> None:
    schedule = maestro_nb.build_schedule(project, quiet=True)
    table = maestro_nb.get_run_sequence(
        schedule, min_datetime="2024-06-01T10:00Z", max_datetime="2024-06-01T11:00Z"
    )
    assert table.values.tolist() == [
        ["hourly_prices", pd.Timestamp("2024-06-01T10:00Z"), True],
        ["daily_weather", pd.Timestamp("2024-06-01T10:30Z"), True],
        ["hourly_prices", pd.Timestamp("2024-06-01T11:00Z"), True],
    ]


def test_a_day_long_sub_daily_step_without_start_date_is_a_warning(
    project: Path,
) -> None:
    write_pipeline(project, "every_two_days", {"frequency": "48 hours"})
    write_pipeline(
        project,
        "elapsed",
        {"frequency": "48 hours", "startTime": "2024-01-01 00:00:00"},
    )

    schedule = maestro_nb.build_schedule(project, quiet=True)

    assert "every_two_days" in schedule.pipelines and schedule.build_errors == []
    assert len(schedule.build_warnings) == 1
    assert "every_two_days.ipynb" in schedule.build_warnings[0]
    assert "runs once a day" in schedule.build_warnings[0]
