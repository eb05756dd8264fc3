from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from notebook_factory import write_pipeline

import maestro_nb

pytestmark = pytest.mark.usefixtures("python3_kernel")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_PIPELINES = {
    "clean_weather",
    "monthly_summary",
    "weather_chart",
    "split_by_weather",  # the DAG: split -> one profile per type -> summary
    "weather_profile",
    "weather_summary",
}
WEATHER_TYPES = ["drizzle", "fog", "rain", "snow", "sun"]
FAST = {"simulated_latency_s": 0.2}


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of the repository's sample project, so runs never touch the repo."""
    for name in ("pipelines", "data"):
        shutil.copytree(REPO / name, tmp_path / name)

    shutil.copy(REPO / "orchestrator.ipynb", tmp_path / "orchestrator.ipynb")
    (tmp_path / "runs").mkdir()
    return tmp_path


def test_sample_pipelines_differ_in_frequency_and_zone(sample: Path) -> None:
    schedule = maestro_nb.build_schedule(sample / "pipelines", quiet=True)
    table = schedule.get_schedule().set_index("pipe_name")

    assert set(table.index) == SAMPLE_PIPELINES
    assert table["frequency"].nunique() == 3
    assert table["tz"].nunique() == 3
    due = maestro_nb.check_schedule(schedule, "1 day", "2024-01-03T12:00:00Z")
    assert 0 < due["is_due"].sum() < len(due)


def test_sample_project_end_to_end_with_run_all(sample: Path) -> None:
    schedule = maestro_nb.build_schedule(sample / "pipelines", quiet=True)

    maestro_nb.run_schedule(
        schedule,
        run_all=True,
        workers=2,
        quiet=True,
        resources=FAST,
        output_dir=sample / "runs",
    )

    status = schedule.get_status().set_index("pipe_name")
    assert (status["status"] == "completed").all(), schedule.last_run_errors()
    artifacts = schedule.get_artifacts()
    assert artifacts["clean_weather"]["rows"] == 1461
    assert Path(artifacts["clean_weather"]["clean_csv"]).is_relative_to(sample / "runs")
    monthly = artifacts["monthly_summary"]
    assert isinstance(monthly, pd.DataFrame) and len(monthly) == 48
    chart = Path(artifacts["weather_chart"]["chart"])
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.is_relative_to(sample / "runs" / "weather_chart")
    assert schedule.last_run_messages()["monthly_summary"][0].startswith(
        "INFO monthly_summary: wettest month"
    )
    profiles = artifacts["weather_profile"]
    assert [profile["weather"] for profile in profiles] == WEATHER_TYPES
    assert sum(profile["days"] for profile in profiles) == 1461
    summary = artifacts["weather_summary"]
    assert sorted(summary.index) == WEATHER_TYPES
    assert list(status.loc["weather_profile", "iteration"]) == [0, 1, 2, 3, 4]


def test_malformed_and_raising_notebooks_are_reported_while_the_rest_runs(
    sample: Path,
) -> None:
    (sample / "pipelines" / "half_saved.ipynb").write_text('{"cells": [')
    write_pipeline(
        sample / "pipelines",
        "raises",
        {"frequency": "1 day"},
        "",
        ["import pandas as pd", "pd.DataFrame({'a': [1]})['missing']"],
    )
    schedule = maestro_nb.build_schedule(sample / "pipelines", quiet=True)

    errors = schedule.last_build_errors()
    assert list(errors["pipe_name"]) == ["half_saved"]
    assert "not valid JSON" in errors["message"][0]

    maestro_nb.run_schedule(
        schedule,
        run_all=True,
        workers=2,
        quiet=True,
        resources=FAST,
        output_dir=sample / "runs",
    )

    status = schedule.get_status().set_index("pipe_name")
    assert status.loc["raises", "status"] == "failed"
    assert status.loc["raises", "errors"] == 1
    assert Path(status.loc["raises", "output_notebook"]).exists()
    assert "KeyError" in schedule.last_run_errors()["raises"]
    for name in SAMPLE_PIPELINES:
        assert (status.loc[[name], "status"] == "completed").all()


def run_orchestrator(
    sample: Path, *parameters: str
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "papermill",
        "orchestrator.ipynb",
        "runs/orchestrator.ipynb",
        "--no-progress-bar",
        *parameters,
    ]
    return subprocess.run(
        command, cwd=sample, capture_output=True, text=True, timeout=300
    )


def test_orchestrator_runs_top_to_bottom_under_papermill(sample: Path) -> None:
    result = run_orchestrator(
        sample, "-p", "orch_frequency", "1 hour", "-p", "run_all", "True"
    )

    assert result.returncode == 0, result.stderr[-2000:]
    executed = nbformat.read(sample / "runs" / "orchestrator.ipynb", as_version=4)
    # The orchestrator shows its summary page alone; its text form is the log.
    text = "".join(
        output.get("data", {}).get("text/plain", "")
        for cell in executed.cells
        for output in cell.get("outputs", [])
    )
    assert "10 succeeded, 0 failed" in text
    for name in SAMPLE_PIPELINES:
        assert any((sample / "runs" / name).glob("*.ipynb"))


def test_orchestrator_fails_when_a_pipeline_fails(sample: Path) -> None:
    write_pipeline(sample / "pipelines", "raises", {}, "", ["1 / 0"])

    result = run_orchestrator(sample, "-p", "run_all", "True", "-p", "workers", "1")

    assert result.returncode != 0
    assert "PipelineRunError" in result.stderr
    assert "raises" in result.stderr
    assert any((sample / "runs" / "weather_chart").glob("*.ipynb"))
