"""Faults at run time, injected for real: each kernel really raises, dies or hangs."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from kernel_procs import no_orphan_kernels  # noqa: F401  (a fixture)
from notebook_factory import write_pipeline

import maestro_nb
from maestro_nb._execution import RunFiles

pytestmark = pytest.mark.usefixtures("python3_kernel", "no_orphan_kernels")

CHECK = "2024-01-03T00:00:00Z"
CHECK_TIME = datetime(2024, 1, 3, tzinfo=timezone.utc)
FIRST = "print('first cell ran', flush=True)"
FAULTS = {
    "cell_error": ["raise ValueError('bad row')"],
    "system_exit": ["raise SystemExit(3)"],
    "quiet_exit": ["raise SystemExit(0)", "import maestro_nb\nmaestro_nb.output('x')"],
    "module_error": ["import helper\nhelper.explode()"],
    "exit_kernel": [FIRST, "import os\nos._exit(1)"],
    "kill_kernel": ["import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"],
    "out_of_memory": [
        "import resource\n"
        "size = int(open('/proc/self/statm').read().split()[0]) * 4096\n"
        "resource.setrlimit(resource.RLIMIT_AS, (size + 2**28, size + 2**28))",
        "hog = bytearray(2**30)",
    ],
    "hang": [FIRST, "import time\ntime.sleep(600)"],
    "healthy": ["import maestro_nb\nmaestro_nb.output('fine')"],
}
EXPECTED = {
    "cell_error": ("failed", "ValueError"),
    "system_exit": ("failed", "SystemExit"),
    "quiet_exit": ("failed", "SystemExit"),
    "module_error": ("failed", "ZeroDivisionError"),
    "exit_kernel": ("kernel_died", "DeadKernelError"),
    "kill_kernel": ("kernel_died", "DeadKernelError"),
    "out_of_memory": ("failed", "MemoryError"),
    "hang": ("timed_out", "timed_out"),
    "healthy": ("completed", None),
}


@pytest.fixture
def faulty(tmp_path: Path) -> Path:
    pipelines = tmp_path / "pipelines"
    for name, cells in FAULTS.items():
        tags: dict[str, object] = {"frequency": "1 day"}
        if name == "hang":
            tags |= {"timeout": "2 seconds", "retries": 1}

        write_pipeline(pipelines, name, tags, "", cells)

    (pipelines / "helper.py").write_text("def explode():\n    return 1 / 0\n")
    return tmp_path


def test_every_fault_is_recorded_with_its_own_status_and_the_rest_runs(
    faulty: Path,
) -> None:
    schedule = maestro_nb.build_schedule(faulty / "pipelines", quiet=True)
    runs = faulty / "runs"
    maestro_nb.run_schedule(
        schedule, check_datetime=CHECK, workers=2, quiet=True, output_dir=runs
    )

    status = schedule.get_status().set_index("pipe_name")
    errors = {r.pipe_name: r.error for r in schedule.last_run.records}  # type: ignore[union-attr]
    for name, (state, ename) in EXPECTED.items():
        assert status.loc[name, "status"] == state, name
        error = errors[name]
        assert (error.ename if error else None) == ename, name
        assert Path(status.loc[name, "output_notebook"]).exists(), name

    assert "killed by signal SIGKILL" in str(errors["kill_kernel"])
    assert "exit code 1" in str(errors["exit_kernel"])
    assert status.loc["exit_kernel", "duration"] < 15  # noticed in seconds
    assert "timeout of 2 s" in str(errors["hang"])
    assert status.loc["hang", "attempt"] == 1  # a timeout is not retried
    assert schedule.get_artifacts() == {"healthy": "fine"}
    assert sorted(schedule.last_run.failed) == sorted(  # type: ignore[union-attr]
        name for name, (state, _) in EXPECTED.items() if state != "completed"
    )

    hung = nbformat.read(status.loc["hang", "output_notebook"], as_version=4)
    texts = [o.get("text", "") for c in hung.cells for o in c.get("outputs", [])]
    assert "first cell ran\n" in texts  # the partial notebook keeps its outputs

    history = maestro_nb.get_history(runs).set_index("pipe_name")
    assert history["status"].to_dict() == status["status"].to_dict()
    written = json.loads((runs / "last_status.json").read_text())
    assert {row["pipe_name"]: row["status"] for row in written["status"]} == (
        status["status"].to_dict()
    )


def test_a_failed_run_is_retried_and_each_attempt_kept(tmp_path: Path) -> None:
    marker = tmp_path / "failed_once"
    cells = [
        "from pathlib import Path\n"
        f"marker = Path({str(marker)!r})\n"
        "if not marker.exists():\n"
        "    marker.touch()\n"
        "    raise RuntimeError('flaky')"
    ]
    write_pipeline(tmp_path / "pipelines", "flaky", {}, "", cells)
    schedule = maestro_nb.build_schedule(tmp_path / "pipelines", quiet=True)
    maestro_nb.run_schedule(
        schedule,
        check_datetime=CHECK,
        quiet=True,
        output_dir=tmp_path / "runs",
        retries=2,
        retry_delay="0.1 seconds",
    )

    status = schedule.get_status()
    assert status["status"].tolist() == ["failed", "completed"]
    assert status["attempt"].tolist() == [1, 2]
    assert status["note"].iloc[0] == "failed; tried again"
    assert status["output_notebook"].nunique() == 2
    assert all(Path(path).exists() for path in status["output_notebook"])
    assert schedule.last_run.failed == []  # type: ignore[union-attr]
    history = maestro_nb.get_history(tmp_path / "runs")
    assert sorted(history["attempt"].tolist()) == [1, 2]


@pytest.mark.parametrize(
    ("value", "valid"),
    [("10 minutes", 600.0), (3, 3.0), ("2.5 s", 2.5), ("x", None), (0, None)],
    ids=["minutes", "number", "decimal-seconds", "words", "zero"],
)
def test_timeout_tag(tmp_path: Path, value: object, valid: float | None) -> None:
    write_pipeline(tmp_path, "p", {"timeout": value}, "")
    schedule = maestro_nb.build_schedule(tmp_path, quiet=True)
    if valid is None:
        assert "timeout" in schedule.last_build_errors()["tag"].tolist()
    else:
        assert schedule.pipelines["p"].timeout == valid


def test_run_paths_stay_inside_the_output_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="leaves the output folder"):
        RunFiles.reserve(tmp_path / "runs", "../outside", CHECK_TIME)

    assert not (tmp_path / "outside").exists()
