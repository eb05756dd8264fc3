"""Real orchestrator processes: stopped by a signal, or started twice at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kernel_procs import kernels_of, no_orphan_kernels  # noqa: F401  (a fixture)
from notebook_factory import write_pipeline

import maestro_nb

pytestmark = pytest.mark.usefixtures("python3_kernel", "no_orphan_kernels")

CHECK = "2024-01-03T00:00:00Z"
ORCHESTRATOR = """
import faulthandler, json, sys
import maestro_nb
# Should this orchestrator ever hang, its threads' stacks land in stderr.
faulthandler.dump_traceback_later(60, exit=True)
project, check = sys.argv[1], sys.argv[2]
schedule = maestro_nb.build_schedule(project + "/pipelines", quiet=True)
maestro_nb.run_schedule(schedule, check_datetime=check, workers=3, quiet=True,
                        output_dir=project + "/runs")
rows = schedule.get_status()[["pipe_name", "status"]].values.tolist()
print(json.dumps(rows))
"""


def start(project: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", ORCHESTRATOR, str(project), CHECK],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("signum", "exit_codes"),
    [(signal.SIGTERM, {-signal.SIGTERM}), (signal.SIGINT, {-signal.SIGINT, 130})],
    ids=["sigterm", "ctrl-c"],
)
def test_a_stopped_orchestrator_kills_its_kernels_and_keeps_what_finished(
    tmp_path: Path, signum: int, exit_codes: set[int]
) -> None:
    pipelines = tmp_path / "pipelines"
    write_pipeline(pipelines, "quick", {}, "", ["print('done')"])
    for name in ("slow_a", "slow_b"):
        write_pipeline(pipelines, name, {}, "", ["import time\ntime.sleep(120)"])

    orchestrator = start(tmp_path)
    history = tmp_path / "runs" / "maestro_history.sqlite"

    def quick_done_and_slow_running() -> bool:
        if not history.exists() or len(kernels_of(str(tmp_path))) < 2:
            return False

        table = maestro_nb.get_history(history)
        return "completed" in table["status"].tolist()

    wait_for(quick_done_and_slow_running, 60)
    orchestrator.send_signal(signum)
    _, stderr = orchestrator.communicate(timeout=90)

    assert orchestrator.returncode in exit_codes, stderr
    written = json.loads((tmp_path / "runs" / "last_status.json").read_text())
    states = {row["pipe_name"]: row["status"] for row in written["status"]}
    assert states == {
        "quick": "completed",
        "slow_a": "interrupted",
        "slow_b": "interrupted",
    }
    table = maestro_nb.get_history(history).set_index("pipe_name")
    assert table["status"].to_dict() == states
    assert all(Path(path).exists() for path in table["output_notebook"])
    assert kernels_of(str(tmp_path)) == []  # at once, not after a while


def test_two_orchestrators_for_one_slot_run_each_pipeline_once(
    tmp_path: Path,
) -> None:
    for name in ("first", "second", "third"):
        cells = ["import time\ntime.sleep(0.5)"]
        write_pipeline(tmp_path / "pipelines", name, {}, "", cells)

    orchestrators = [start(tmp_path), start(tmp_path)]
    outputs = [o.communicate(timeout=120) for o in orchestrators]

    assert [o.returncode for o in orchestrators] == [0, 0], outputs
    seen = [dict(json.loads(out)) for out, _ in outputs]
    for name in ("first", "second", "third"):
        states = sorted(found[name] for found in seen)
        assert states == ["already_claimed", "completed"], name

    history = maestro_nb.get_history(tmp_path / "runs")
    assert sorted(history["pipe_name"]) == ["first", "second", "third"]
    notebooks = list((tmp_path / "runs").rglob("*.ipynb"))
    assert len(notebooks) == 3


def test_two_orchestrators_without_history_never_share_a_file(
    tmp_path: Path,
) -> None:
    write_pipeline(tmp_path / "pipelines", "same", {}, "", ["x = 1"])
    script = ORCHESTRATOR.replace("quiet=True,", "quiet=True, history=False,")
    orchestrators = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path), CHECK],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [o.communicate(timeout=120)[0] for o in orchestrators]

    assert [json.loads(out) for out in outputs] == [[["same", "completed"]]] * 2
    notebooks = list((tmp_path / "runs" / "same").glob("*.ipynb"))
    assert len(notebooks) == 2
    assert not (tmp_path / "runs" / "maestro_history.sqlite").exists()
    assert os.path.getsize(notebooks[0]) > 0 and os.path.getsize(notebooks[1]) > 0
