"""Figures a-c: reading tags, due decisions and run sequences.

Each figure is measured side by side with its baseline in the same process:
``build_schedule`` against a loop of ``nbformat.read`` over the same files;
due decisions and run sequences against the reference implementation's
published per-pipeline costs (the R package cannot run on this machine, so
its figures are quoted, not measured).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat

import maestro_nb
from maestro_nb._cycles import _day_starts
from maestro_nb._localtime import localize
from maestro_nb._rounding import _cached_round, _cached_window
from maestro_nb._tags import PipelineSpec, parse_tags
from maestro_nb._timing import add_years

# Quoted from the reference implementation (maestro 1.2.0) on this kind of
# machine: the time to decide one pipeline at one check instant.
REFERENCE_CHECK_SECONDS_PER_PIPELINE = 5.5e-3

FREQUENCIES = [
    "1 day",
    "daily",
    "1 hour",
    "15 minutes",
    "2 hours",
    "1 week",
    "weekly",
    "1 month",
    "quarterly",
    "6 hours",
    "12 hours",
    "2 days",
    "biweekly",
    "yearly",
    "30 minutes",
    "5 minutes",
]
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]


def median_seconds(action: Callable[[], Any], repeats: int) -> float:
    """Run ``action`` ``repeats`` times and return the median wall time."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)

    return statistics.median(timings)


def mixed_tags(rng: random.Random) -> dict[str, Any]:
    """Tags a real project might carry: mixed frequencies, zones and filters."""
    frequency = rng.choice(FREQUENCIES)
    tags: dict[str, Any] = {"frequency": frequency, "tz": rng.choice(ZONES)}
    if "minute" in frequency or "hour" in frequency:
        tags["startTime"] = rng.choice(["00:00:00", "05:30:00", "2024-01-03 10:15:00"])
        if frequency in ("1 hour", "15 minutes", "30 minutes") and rng.random() < 0.3:
            tags["hours"] = sorted(rng.sample(range(24), 8))
    elif frequency in ("1 day", "daily", "2 days"):
        tags["startTime"] = rng.choice(["06:00:00", "2024-02-01 12:00:00"])
        if rng.random() < 0.3:
            tags["days"] = ["Mon", "Wed", "Fri"]
    elif frequency in ("1 week", "weekly", "biweekly"):
        tags["startTime"] = rng.choice(["Mon 04:00:00", "Fri 23:30:00"])
    elif frequency in ("1 month", "quarterly"):
        tags["startTime"] = rng.choice(["1", "15 06:00:00", "31"])
        if rng.random() < 0.3:
            tags["months"] = [1, 4, 7, 10]

    return tags


def mixed_schedule(count: int, seed: int = 7) -> maestro_nb.Schedule:
    rng = random.Random(seed)
    specs: list[PipelineSpec] = [
        parse_tags(mixed_tags(rng), name=f"p{i:05d}", path=Path(f"p{i:05d}.ipynb"))
        for i in range(count)
    ]
    return maestro_nb.Schedule(specs)


def write_heavy_notebooks(folder: Path, count: int, output_bytes: int) -> None:
    """Notebooks whose first cell carries tags and whose second ~2 MB of output."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "region = 'north'",
            metadata={"tags": ["parameters"], "maestro": {"frequency": "1 day"}},
        )
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    heavy = nbformat.v4.new_code_cell("print(data)")
    heavy.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="y" * output_bytes)
    ]
    notebook.cells.append(heavy)
    for index in range(count):
        nbformat.write(notebook, folder / f"pipeline_{index:04d}.ipynb")


def figure_build(count: int = 1000, output_bytes: int = 2_000_000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_heavy_notebooks(folder, count, output_bytes)
        paths = sorted(folder.glob("*.ipynb"))
        built = maestro_nb.build_schedule(folder, quiet=True)
        if built.build_errors or len(built) != count:
            raise RuntimeError(f"benchmark notebooks did not build: {built!r}")

        ours = median_seconds(lambda: maestro_nb.build_schedule(folder, quiet=True), 3)
        baseline = median_seconds(
            lambda: [nbformat.read(path, as_version=4) for path in paths], 1
        )

    return {
        "figure": f"a. build_schedule, {count} notebooks x {output_bytes / 1e6:.0f} MB",
        "ours": f"{ours:.3f} s",
        "baseline": f"{baseline:.3f} s (nbformat.read loop)",
        "ratio": f"{baseline / ours:.0f}x faster",
        "target": "<= 0.2 s and >= 30x",
        "met": ours <= 0.2 and baseline / ours >= 30,
    }


def clear_caches() -> None:
    """Forget cached localizations and roundings: each real check is a new process."""
    for cached in (localize, _cached_round, _cached_window, add_years, _day_starts):
        cached.cache_clear()


def figure_due(count: int = 10_000) -> dict[str, Any]:
    schedule = mixed_schedule(count)
    check = "2024-06-01T10:07:00Z"

    def cold_check() -> None:
        clear_caches()
        schedule.check("1 hour", check)

    ours = median_seconds(cold_check, 3) / count
    return {
        "figure": f"b. due decisions, {count} mixed pipelines, one check",
        "ours": f"{ours * 1e6:.1f} us/pipeline",
        "baseline": f"{REFERENCE_CHECK_SECONDS_PER_PIPELINE * 1e3:.1f} ms/pipeline "
        "(reference, quoted)",
        "ratio": f"{REFERENCE_CHECK_SECONDS_PER_PIPELINE / ours:.0f}x faster",
        "target": "<= 20 us/pipeline and >= 250x",
        "met": ours <= 20e-6,
    }


def figure_sequence(count: int = 100) -> dict[str, Any]:
    schedule = mixed_schedule(count, seed=11)
    rows = len(schedule.get_run_sequence(None, "2024-01-01", "2024-12-31T23:59:59Z"))
    seconds = median_seconds(
        lambda: schedule.get_run_sequence(None, "2024-01-01", "2024-12-31T23:59:59Z"), 3
    )
    return {
        "figure": f"c. get_run_sequence, {count} pipelines over one year",
        "ours": f"{rows / seconds / 1e6:.1f} M rows/s "
        f"({rows:,} rows in {seconds:.2f} s)",
        "baseline": "~880,000 rows in 0.8 s = 1.1 M rows/s (reference, quoted)",
        "ratio": f"{rows / seconds / 1.1e6:.1f}x",
        "target": ">= 3 M rows/s",
        "met": rows / seconds >= 3e6,
    }
