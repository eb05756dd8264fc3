"""Soak test: many orchestrator rounds with faults injected at random.

Each round runs the orchestrator once, 15 minutes of schedule later than the
last, over a project of small notebooks. Before each round a plan file tells
every notebook what to do this time: finish, raise, kill its own kernel,
hang past the run's timeout, or run slowly. After each round the invariant
is checked: every run that was started has an executed notebook, a status
row and a history row, every pipeline that was due has a final record, and
each record's status says what really happened to it.

    python benchmarks/soak.py [--rounds 100] [--notebooks 20] [--seed 7]

Prints the figures and exits 1 when a run was lost or misreported.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import psutil

import maestro_nb

ORCH_FREQUENCY = "15 minutes"
TIMEOUT = 4.0
FREQUENCIES = ["2 hours", "3 hours", "4 hours", "6 hours", "12 hours"]
FAULTS = {  # kind: (weight, the state its run must end in)
    "none": (60, "completed"),
    "slow": (13, "completed"),
    "exception": (10, "failed"),
    "kernel_death": (10, "kernel_died"),
    "hang": (7, "timed_out"),
}
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
CELL = """\
import json, os, signal, time
fault = json.load(open({plan!r})).get({name!r}, "none")
if fault == "exception":
    raise RuntimeError("injected fault")
if fault == "kernel_death":
    os.kill(os.getpid(), signal.SIGKILL) if {name!r} < "p10" else os._exit(1)
if fault == "hang":
    time.sleep(600)
if fault == "slow":
    time.sleep(1.0)
"""


@dataclass
class SoakResult:
    """The figures of one soak."""

    rounds: int = 0
    runs: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    misreported: list[str] = field(default_factory=list)
    rss_start: int = 0
    rss_end: int = 0
    seconds: float = 0.0
    orphan_kernels: int = 0


def make_project(folder: Path, notebooks: int) -> Path:
    """Write ``notebooks`` pipelines that obey the plan file; return the plan path."""
    plan = folder / "plan.json"
    plan.write_text("{}")
    for index in range(notebooks):
        name = f"p{index:02d}"
        tags: dict[str, object] = {
            "frequency": FREQUENCIES[index % len(FREQUENCIES)],
            "startTime": f"2024-01-01 00:{(index * 15) % 60:02d}:00",
        }
        if index % 7 == 3:
            tags["retries"] = 1

        _write_notebook(folder / "pipelines" / f"{name}.ipynb", tags, plan, name)

    return plan


def _write_notebook(path: Path, tags: dict[str, object], plan: Path, name: str) -> None:
    notebook = nbformat.v4.new_notebook()
    metadata = {"tags": ["parameters"], "maestro": tags}
    notebook.cells.append(
        nbformat.v4.new_code_cell("maestro_run_id = None", metadata=metadata)
    )
    notebook.cells.append(
        nbformat.v4.new_code_cell(CELL.format(plan=str(plan), name=name))
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def soak(rounds: int, notebooks: int, folder: Path, seed: int = 7) -> SoakResult:
    """Run the orchestrator ``rounds`` times with random faults; check each round."""
    rng = random.Random(seed)
    plan = make_project(folder, notebooks)
    schedule = maestro_nb.build_schedule(folder / "pipelines", quiet=True)
    runs = folder / "runs"
    result = SoakResult()
    process = psutil.Process()
    began = time.monotonic()
    for number in range(rounds):
        check = START + timedelta(minutes=15 * number)
        faults = _plan_round(rng, schedule.pipelines, plan)
        maestro_nb.run_schedule(
            schedule,
            ORCH_FREQUENCY,
            check_datetime=check,
            workers=2,
            quiet=True,
            output_dir=runs,
            timeout=TIMEOUT,
        )
        _check_round(schedule, runs, faults, f"round {number}", result)
        if number == 0:
            result.rss_start = process.memory_info().rss

    result.rss_end = process.memory_info().rss
    result.rounds = rounds
    result.seconds = time.monotonic() - began
    result.orphan_kernels = len(_kernels_under(str(folder)))
    return result


def _plan_round(
    rng: random.Random, pipelines: dict[str, object], plan: Path
) -> dict[str, str]:
    kinds = list(FAULTS)
    weights = [FAULTS[kind][0] for kind in kinds]
    faults = {name: rng.choices(kinds, weights)[0] for name in pipelines}
    plan.write_text(json.dumps(faults))
    return faults


def _check_round(
    schedule: maestro_nb.Schedule,
    runs: Path,
    faults: dict[str, str],
    where: str,
    result: SoakResult,
) -> None:
    report = schedule.last_run
    assert report is not None
    history = maestro_nb.get_history(runs).set_index("run_id")
    started = [record for record in report.records if record.run_id is not None]
    for record in started:
        result.runs += 1
        result.faults[faults[record.pipe_name]] += 1
        notebook = record.output_notebook
        if notebook is None or not notebook.exists() or not notebook.stat().st_size:
            result.lost.append(f"{where}: {record.label} has no executed notebook")

        if record.run_id not in history.index:
            result.lost.append(f"{where}: {record.label} has no history row")
        elif history.loc[record.run_id, "status"] != record.state.value:
            result.lost.append(f"{where}: {record.label} history disagrees")

        expected = FAULTS[faults[record.pipe_name]][1]
        if record.state.value != expected:
            result.misreported.append(
                f"{where}: {record.label} {record.state.value}, expected {expected}"
            )

    _check_due_ran(schedule, report, where, result)


def _check_due_ran(
    schedule: maestro_nb.Schedule,
    report: object,
    where: str,
    result: SoakResult,
) -> None:
    """Every pipeline the schedule says was due has a final record that ran."""
    status = schedule.get_status()
    due = maestro_nb.check_schedule(schedule, ORCH_FREQUENCY, report.check_datetime)  # type: ignore[attr-defined]
    for name in due.loc[due["is_due"], "pipe_name"]:
        rows = status[(status["pipe_name"] == name) & status["run_id"].notna()]
        if rows.empty:
            result.lost.append(f"{where}: {name} was due and has no run")


def _kernels_under(marker: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            environ = proc.info["environ"] or {}
        except psutil.Error:
            continue

        if "ipykernel" in cmdline and any(marker in v for v in environ.values()):
            if proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)

    return found


def print_figures(result: SoakResult) -> None:
    """Print the soak's figures as a two-column table."""
    rows = [
        ("rounds", result.rounds),
        ("runs started", result.runs),
        *((f"  planned {kind}", result.faults[kind]) for kind in FAULTS),
        ("runs lost", len(result.lost)),
        ("runs misreported", len(result.misreported)),
        ("orphan kernels after", result.orphan_kernels),
        ("orchestrator RSS after round 1", f"{result.rss_start / 2**20:.1f} MiB"),
        ("orchestrator RSS at the end", f"{result.rss_end / 2**20:.1f} MiB"),
        ("wall time", f"{result.seconds:.0f} s"),
    ]
    for label, value in rows:
        print(f"{label:<32} {value}")

    for line in (result.lost + result.misreported)[:20]:
        print("  ", line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--notebooks", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.getLogger("maestro_nb").addHandler(logging.NullHandler())
    with tempfile.TemporaryDirectory(prefix="maestro_soak_") as folder:
        result = soak(args.rounds, args.notebooks, Path(folder), args.seed)

    print_figures(result)
    grew = result.rss_end - result.rss_start
    flat = grew < 50 * 2**20
    print(f"{'memory flat (< 50 MiB growth)':<32} {flat}")
    clean = not result.lost and not result.misreported and not result.orphan_kernels
    return 0 if clean and flat else 1


if __name__ == "__main__":
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    sys.exit(main())
