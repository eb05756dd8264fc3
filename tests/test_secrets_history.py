"""Secrets stay off disk, hostile strings arrive intact, the history catches up."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from kernel_procs import no_orphan_kernels  # noqa: F401  (a fixture)
from notebook_factory import write_pipeline

import maestro_nb
from maestro_nb._conditions import evaluate_run_if
from maestro_nb._exceptions import ConditionError
from maestro_nb._history import RunHistory

pytestmark = pytest.mark.usefixtures("python3_kernel", "no_orphan_kernels")

CHECK = "2024-01-03T00:00:00Z"
SECRET = "s3cr3t-'quoted' \"double\" \\back {brace}"
HOSTILE = [
    'say "hi"',
    "it's",
    "back\\slash\\",
    "two\nlines\r\n",
    '"""; import os; open("pwned", "w"); """',
    "'''\\",
    "nul\x00byte",
    "{braces} {0} %s $HOME `id`",
    "ünïcode ✓",
]


def test_a_secret_reaches_the_kernel_but_no_file_log_page_or_history(
    tmp_path: Path,
) -> None:
    pipelines = tmp_path / "pipelines"
    leak = (
        "import hashlib, logging, warnings, maestro_nb\n"
        "print('token is', token)\n"
        "warnings.warn('token ' + token)\n"
        "logging.getLogger('leak').warning('token %s', token)\n"
        "maestro_nb.output(hashlib.sha256(token.encode()).hexdigest())"
    )
    write_pipeline(pipelines, "uses_token", {}, "token = None", [leak])
    fail = "raise RuntimeError('bad token ' + token)"
    write_pipeline(pipelines, "fails_with_token", {}, "token = None", [fail])
    write_pipeline(pipelines, "no_token", {}, "x = 1", ["print(x)"])
    schedule = maestro_nb.build_schedule(pipelines, quiet=True)
    runs = tmp_path / "runs"
    maestro_nb.run_schedule(
        schedule,
        check_datetime=CHECK,
        workers=2,
        quiet=True,
        output_dir=runs,
        log_to_file=True,
        secrets={"token": SECRET},
    )

    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    assert schedule.get_artifacts()["uses_token"] == digest
    status = schedule.get_status().set_index("pipe_name")["status"]
    assert status.to_dict()["fails_with_token"] == "failed"
    written = [p for p in runs.rglob("*") if p.is_file()]
    assert any(p.suffix == ".ipynb" for p in written)
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), path

    page = maestro_nb.report(schedule).html
    shown = [page, str(schedule.last_run_errors()), str(schedule.last_run_warnings())]
    shown.append(maestro_nb.get_history(runs).to_string())
    assert all(SECRET not in text for text in shown)
    assert "bad token ***" in schedule.last_run_errors()["fails_with_token"]


def test_a_secret_cannot_hold_nul_and_never_shows_its_value() -> None:
    with pytest.raises(ValueError, match="NUL"):
        maestro_nb.Secret("a\x00b")

    assert SECRET not in repr(maestro_nb.Secret(SECRET))
    assert str(maestro_nb.Secret(SECRET)) == "***"


def test_hostile_strings_arrive_unchanged_and_run_no_code(tmp_path: Path) -> None:
    names = [f"s{i}" for i in range(len(HOSTILE))]
    parameters = "\n".join(f"{name} = None" for name in names)
    echo = f"import maestro_nb\nmaestro_nb.output([{', '.join(names)}])"
    write_pipeline(tmp_path / "pipelines", "echo", {}, parameters, [echo])
    schedule = maestro_nb.build_schedule(tmp_path / "pipelines", quiet=True)
    maestro_nb.run_schedule(
        schedule,
        check_datetime=CHECK,
        quiet=True,
        output_dir=tmp_path / "runs",
        resources=dict(zip(names, HOSTILE, strict=True)),
        history=False,
    )

    assert schedule.get_artifacts()["echo"] == HOSTILE
    assert not list(tmp_path.rglob("pwned"))
    assert not (tmp_path / "runs" / "maestro_history.sqlite").exists()


def test_catch_up_runs_each_missed_slot_once_oldest_first(tmp_path: Path) -> None:
    cells = ["import maestro_nb\nmaestro_nb.output(maestro_scheduled_time)"]
    source = "maestro_scheduled_time = None"
    write_pipeline(tmp_path / "pipelines", "daily", {}, source, cells)
    schedule = maestro_nb.build_schedule(tmp_path / "pipelines", quiet=True)
    runs = tmp_path / "runs"
    RunHistory(runs / "maestro_history.sqlite").close()  # the history began now
    now = datetime.now(timezone.utc)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    check = today + timedelta(days=2, hours=1)

    def run() -> list[str]:
        maestro_nb.run_schedule(
            schedule, check_datetime=check, quiet=True, output_dir=runs,
            catch_up="3 days",
        )  # fmt: skip
        return schedule.get_status()["status"].tolist()

    assert run() == ["completed", "completed"]
    slots = schedule.get_artifacts()["daily"]
    assert [datetime.fromisoformat(s) for s in slots] == [  # type: ignore[union-attr]
        today + timedelta(days=1),
        today + timedelta(days=2),
    ]
    assert run() == ["already_claimed"]  # nothing is run twice
    assert len(maestro_nb.get_history(runs)) == 2


@pytest.mark.parametrize("name", ["os", "schedule", "spec", "open", "secret"])
def test_run_if_sees_only_its_documented_names(name: str) -> None:
    with pytest.raises(ConditionError, match="unknown name"):
        evaluate_run_if(f"{name} is None", {}, None)
