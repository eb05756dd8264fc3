"""Figures d-e: executing notebooks, and the orchestrator's memory over many runs.

d. 20 trivial two-cell notebooks through ``run_schedule(run_all=True)`` with
   1 and 4 workers, against a plain loop of ``papermill.execute_notebook``
   over the same notebooks, measured in the same process.
e. The orchestrator's resident memory over 500 notebook runs: the growth
   between the end of the first 100 and the end of the last 100.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
import papermill

import maestro_nb


def write_trivial_notebooks(folder: Path, count: int) -> list[Path]:
    """Two cells: parameters carrying the tags, then a computation."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        notebook.cells = [
            nbformat.v4.new_code_cell(
                "n = 10",
                metadata={"tags": ["parameters"], "maestro": {"frequency": "1 day"}},
            ),
            nbformat.v4.new_code_cell("total = sum(range(n))\ntotal"),
        ]
        path = folder / f"trivial_{index:03d}.ipynb"
        nbformat.write(notebook, path)
        paths.append(path)

    return paths


def papermill_loop(paths: list[Path], output: Path) -> float:
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for path in paths:
        papermill.execute_notebook(
            str(path), str(output / path.name), parameters={"n": 5}, progress_bar=False
        )

    return time.perf_counter() - started


def orchestrator_run(folder: Path, output: Path, workers: int) -> float:
    schedule = maestro_nb.build_schedule(folder, quiet=True)
    started = time.perf_counter()
    maestro_nb.run_schedule(
        schedule,
        run_all=True,
        workers=workers,
        quiet=True,
        output_dir=output,
        resources={"n": 5},
    )
    elapsed = time.perf_counter() - started
    failed = [
        name
        for name, ok in schedule.get_status()[["pipe_name", "success"]].values
        if not ok
    ]
    if failed:
        raise RuntimeError(f"benchmark notebooks failed: {failed}")

    return elapsed


def figure_execution(count: int = 20) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = write_trivial_notebooks(root / "pipelines", count)
        orchestrator_run(root / "pipelines", root / "warmup", 1)  # imports, caches
        baseline = papermill_loop(paths, root / "loop")
        one = orchestrator_run(root / "pipelines", root / "w1", 1)
        four = orchestrator_run(root / "pipelines", root / "w4", 4)

    return [
        {
            "figure": f"d. {count} trivial notebooks, workers=1",
            "ours": f"{one:.2f} s ({one / count:.2f} s each)",
            "baseline": f"{baseline:.2f} s (papermill.execute_notebook loop)",
            "ratio": f"{one / baseline:.2f}x of the loop",
            "target": "<= 0.55x",
            "met": one / baseline <= 0.55,
        },
        {
            "figure": f"d. {count} trivial notebooks, workers=4",
            "ours": f"{four:.2f} s",
            "baseline": f"{baseline:.2f} s (papermill.execute_notebook loop)",
            "ratio": f"{four / baseline:.2f}x of the loop",
            "target": "<= 0.3x",
            "met": four / baseline <= 0.3,
        },
    ]


def resident_mb() -> float:
    """Current resident set size of this process, from /proc (Linux)."""
    fields = Path("/proc/self/statm").read_text().split()
    return int(fields[1]) * resource.getpagesize() / 1e6


def figure_memory(total_runs: int = 500, batch: int = 20) -> dict[str, Any]:
    """Run ``total_runs`` notebooks in orchestrator rounds of ``batch`` each."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_trivial_notebooks(root / "pipelines", batch)
        samples: list[float] = []
        for round_index in range(total_runs // batch):
            orchestrator_run(root / "pipelines", root / f"r{round_index:03d}", 4)
            samples.append(resident_mb())

    per_100 = 100 // batch
    first, last = samples[per_100 - 1], samples[-1]
    return {
        "figure": f"e. orchestrator memory over {total_runs} runs",
        "ours": f"{first:.0f} MB after 100 runs, {last:.0f} MB after {total_runs}",
        "baseline": "the same process after its first 100 runs",
        "ratio": f"{last - first:+.1f} MB",
        "target": "growth <= 20 MB",
        "met": last - first <= 20,
    }
