from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from notebook_factory import write_pipeline

import maestro_nb
from maestro_nb import Schedule

pytestmark = pytest.mark.usefixtures("python3_kernel")

CHECK = "2024-01-03T00:00:00Z"  # a Wednesday
DAILY = {"frequency": "1 day"}
MONDAYS = {"frequency": "1 week", "startTime": "2024-01-01 00:00:00"}
SLOW = ["import time, maestro_nb\ntime.sleep(1.5)\nmaestro_nb.output(name)"]


def build(folder: Path) -> Schedule:
    return maestro_nb.build_schedule(folder, quiet=True, output_dir=folder / "runs")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    pipelines = tmp_path / "pipelines"
    write_pipeline(pipelines, "slow_a", DAILY, "name = 'a'", SLOW)
    write_pipeline(pipelines, "slow_b", DAILY, "name = 'b'", SLOW)
    write_pipeline(pipelines, "broken", DAILY, "", ["raise KeyError('gone')"])
    write_pipeline(pipelines, "weekly", MONDAYS, "", ["print('weekly')"])
    write_pipeline(pipelines, "off", {"skip": True}, "", ["print('off')"])
    return tmp_path


def test_two_workers_overlap_and_a_failure_stops_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule = build(project / "pipelines")
    due = maestro_nb.check_schedule(schedule, "1 day", CHECK)
    assert set(due.loc[due["is_due"], "pipe_name"]) == {"slow_a", "slow_b", "broken"}

    maestro_nb.run_schedule(
        schedule, check_datetime=CHECK, workers=2, output_dir=project / "runs"
    )

    status = schedule.get_status().set_index("pipe_name")
    assert status.loc["slow_a", "status"] == "completed"
    assert status.loc["slow_b", "status"] == "completed"
    assert status.loc["broken", "status"] == "failed"
    assert status.loc["weekly", "status"] == "not_due"
    assert status.loc["off", "status"] == "skipped"
    a, b = status.loc["slow_a"], status.loc["slow_b"]
    assert a["started"] < b["ended"] and b["started"] < a["ended"], "no overlap"
    assert schedule.get_artifacts() == {"slow_a": "a", "slow_b": "b"}
    assert "KeyError" in schedule.last_run_errors()["broken"]
    assert schedule.last_run is not None
    assert schedule.last_run.failed == ["broken"]

    printed = capsys.readouterr().out
    assert printed.count("completed slow_") == 2
    assert "failed    broken" in printed
    assert "2 succeeded, 1 failed" in printed
    assert "next 4 scheduled runs:" in printed  # "off" is skipped: no next run
    assert "2024-01-08 00:00 UTC  weekly" in printed


def test_status_table_columns_and_types(project: Path) -> None:
    schedule = build(project / "pipelines")
    assert list(schedule.get_status().columns) == list(
        maestro_nb.get_status(schedule).columns
    )
    assert schedule.get_status().empty

    (project / "pipelines" / "slow_b.ipynb").unlink()
    (project / "pipelines" / "broken.ipynb").unlink()
    schedule = build(project / "pipelines")
    maestro_nb.run_schedule(
        schedule, check_datetime=CHECK, quiet=True, output_dir=project / "runs"
    )

    status = maestro_nb.get_status(schedule)
    for column in [
        "pipe_name",
        "notebook",
        "invoked",
        "success",
        "started",
        "ended",
        "duration",
        "errors",
        "warnings",
        "messages",
        "run_id",
        "output_notebook",
        "next_run",
    ]:
        assert column in status.columns

    for column in ["started", "ended", "next_run"]:
        assert str(status[column].dt.tz) == "UTC"

    assert status["duration"].dtype == "float64"
    row = status.set_index("pipe_name").loc["slow_a"]
    assert bool(row["invoked"]) and bool(row["success"])
    assert row["next_run"] == pd.Timestamp("2024-01-04", tz="UTC")
    assert Path(row["output_notebook"]).exists()
    assert not status.set_index("pipe_name").loc["weekly", "invoked"]


def test_run_all_runs_what_is_not_due_but_never_a_skipped_one(tmp_path: Path) -> None:
    pipelines = tmp_path / "pipelines"
    write_pipeline(pipelines, "weekly", MONDAYS, "", ["print('weekly')"])
    write_pipeline(pipelines, "off", {"skip": True}, "", ["print('off')"])
    schedule = build(pipelines)

    maestro_nb.run_schedule(
        schedule,
        check_datetime=CHECK,
        run_all=True,
        quiet=True,
        log_to_file=True,
        output_dir=tmp_path / "runs",
    )

    status = schedule.get_status().set_index("pipe_name")
    assert status.loc["weekly", "status"] == "completed"
    assert status.loc["off", "status"] == "skipped"
    log = (tmp_path / "runs" / "maestro.log").read_text()
    assert "weekly.ipynb: run" in log and "completed in" in log


def test_workers_must_be_positive(tmp_path: Path) -> None:
    schedule = Schedule([])
    with pytest.raises(ValueError, match="workers must be 1 or more"):
        maestro_nb.run_schedule(schedule, workers=0, output_dir=tmp_path)
