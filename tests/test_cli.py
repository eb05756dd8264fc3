from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from notebook_factory import write_pipeline

import maestro_nb
from maestro_nb._cli import build_parser, main

COMMANDS = [
    "run",
    "schedule",
    "next",
    "status",
    "why",
    "invoke",
    "validate",
    "init",
    "new",
    "tag",
    "deploy-files",
]
SCRIPT = Path(sys.executable).with_name("maestro-nb")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed console script as cron would: no terminal, no colour."""
    env = {**os.environ, "TERM": "dumb"}
    env.pop("MAESTRO_PROGRESS", None)
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_lists_every_command_and_the_exit_codes(tmp_path: Path) -> None:
    result = cli("--help", cwd=tmp_path)

    assert result.returncode == 0
    assert result.stdout.startswith("usage: maestro-nb")
    for command in COMMANDS:
        assert f"    {command}" in result.stdout, command

    assert "exit codes: 0 all good, 1 a pipeline failed, 2 bad usage" in result.stdout


@pytest.mark.parametrize("command", [*COMMANDS, "new pipeline"])
def test_every_subcommand_has_help(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command.split(), "--help"])

    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: maestro-nb {command}")


def test_python_dash_m_is_the_same_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "maestro_nb", "run", "--workers", "many"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 2
    assert "invalid int value: 'many'" in result.stderr


@pytest.mark.usefixtures("python3_kernel")
def test_init_then_run_all_then_status(tmp_path: Path) -> None:
    assert cli("init", "proj", cwd=tmp_path).returncode == 0
    project = tmp_path / "proj"

    run = cli("run", "--run-all", "--json", "--log-to-file", cwd=project)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["failed"] == [] and report["succeeded"] == ["example_pipeline"]
    assert report["status"][0]["status"] == "completed"
    assert (project / "runs" / "maestro.log").exists()

    status = cli("status", cwd=project)
    assert status.returncode == 0
    assert "example_pipeline completed" in status.stdout
    status_json = json.loads(cli("status", "--json", cwd=project).stdout)
    assert status_json["status"][0]["pipe_name"] == "example_pipeline"
    again = cli("init", "proj", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.usefixtures("python3_kernel")
def test_a_failing_pipeline_exits_1_with_plain_lines(tmp_path: Path) -> None:
    write_pipeline(tmp_path / "pipelines", "broken", {}, "", ["1 / 0"])

    run = cli("run", "--run-all", cwd=tmp_path)

    assert run.returncode == 1
    assert "[1/1] failed    broken" in run.stdout
    assert "ZeroDivisionError" in run.stdout
    assert "\x1b" not in run.stdout + run.stderr and "\r" not in run.stdout
    assert cli("status", cwd=tmp_path).returncode == 1


def test_validate_exits_2_on_a_bad_notebook_and_0_once_fixed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipelines = tmp_path / "pipelines"
    write_pipeline(pipelines, "good", {"frequency": "1 day"})
    bad = write_pipeline(pipelines, "bad", {"frequency": "1 dya"})

    assert main(["validate", "--pipeline-dir", str(pipelines)]) == 2
    out = capsys.readouterr().out
    assert "bad.ipynb" in out and "1 build error(s)" in out

    assert main(["tag", str(bad), "--frequency", "1 day"]) == 0
    assert main(["validate", "--pipeline-dir", str(pipelines)]) == 0


def test_tag_edits_the_first_cell_and_refuses_bad_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_pipeline(tmp_path, "p", {"frequency": "1 day"}, "x = 1", ["x"])
    options = ["--frequency", "1 week", "--start-time", "Mon 06:00:00"]

    assert main(["tag", str(path), *options, "--tz", "Europe/Paris"]) == 0
    tags = nbformat.read(path, as_version=4).cells[0].metadata["maestro"]
    assert tags == {
        "frequency": "1 week",
        "startTime": "Mon 06:00:00",
        "tz": "Europe/Paris",
    }

    before = path.read_bytes()
    assert main(["tag", str(path), "--hours", "25"]) == 2
    assert "hours" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_new_pipeline_schedule_next_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipelines = str(tmp_path / "pipelines")
    new = ["new", "pipeline", "hourly_prices", "--pipeline-dir", pipelines]
    assert main([*new, "--frequency", "1 hour"]) == 0
    assert main([*new]) == 2
    capsys.readouterr()

    assert main(["schedule", "--pipeline-dir", pipelines]) == 0
    assert "hourly_prices    1 hour" in capsys.readouterr().out
    check = ["--check-datetime", "2024-01-01T10:30:00Z"]
    assert main(["next", "--pipeline-dir", pipelines, "-n", "3", *check, "--json"]) == 0
    upcoming = json.loads(capsys.readouterr().out)
    assert [row["scheduled_time"][:16] for row in upcoming] == [
        "2024-01-01T11:00",
        "2024-01-01T12:00",
        "2024-01-01T13:00",
    ]
    assert main(["why", "hourly_prices", "--pipeline-dir", pipelines, *check]) == 0
    assert "hourly_prices" in capsys.readouterr().out
    assert main(["why", "nope", "--pipeline-dir", pipelines]) == 2
    assert "no pipeline named 'nope'" in capsys.readouterr().err


@pytest.mark.usefixtures("python3_kernel")
def test_invoke_runs_one_pipeline_now(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not hasattr(maestro_nb, "invoke"):
        pytest.skip("maestro_nb.invoke has not landed yet")

    pipelines = tmp_path / "pipelines"
    write_pipeline(
        pipelines,
        "off",
        {"skip": True},
        "",
        ["import maestro_nb", "maestro_nb.output(7)"],
    )
    args = ["--pipeline-dir", str(pipelines), "--output-dir", str(tmp_path / "runs")]

    assert main(["invoke", "off", *args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["succeeded"] == ["off"]


def test_run_takes_timeout_retries_and_history_options(tmp_path: Path) -> None:
    write_pipeline(
        tmp_path / "pipelines", "hangs", {}, "", ["import time", "time.sleep(60)"]
    )
    write_pipeline(tmp_path / "pipelines", "flaky", {}, "", ["1 / 0"])

    run = cli(
        "run",
        "--run-all",
        "--timeout",
        "3",
        "--retries",
        "1",
        "--retry-delay",
        "0",
        "--no-history",
        "--json",
        cwd=tmp_path,
    )

    assert run.returncode == 1
    rows = json.loads(run.stdout)["status"]
    states = sorted((row["pipe_name"], row["status"], row["attempt"]) for row in rows)
    assert states == [
        ("flaky", "failed", 1),
        ("flaky", "failed", 2),
        ("hangs", "timed_out", 1),
    ]
    assert not (tmp_path / "runs" / "maestro_history.sqlite").exists()


def test_run_records_history_where_asked(tmp_path: Path) -> None:
    write_pipeline(tmp_path / "pipelines", "quick", {}, "x = 1")
    database = tmp_path / "shared" / "history.sqlite"

    run = cli(
        "run",
        "--run-all",
        "--history",
        str(database),
        "--catch-up",
        "1 day",
        cwd=tmp_path,
    )

    assert run.returncode == 0, run.stderr
    history = maestro_nb.get_history(database)
    assert history["pipe_name"].tolist() == ["quick"]
