"""Run every benchmark figure side by side with its baseline and print a table.

    python benchmarks/run.py            # every figure (a few minutes)
    python benchmarks/run.py a b c      # only some

Figures and targets:
  a. build_schedule over 1,000 notebooks with ~2 MB of outputs each
  b. due decisions for 10,000 mixed pipelines at one check instant
  c. get_run_sequence for 100 pipelines over one year
  d. 20 trivial notebooks with workers=1 and workers=4 vs a papermill loop
  e. orchestrator memory over 500 notebook runs
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import run_figures  # noqa: E402
import schedule_figures  # noqa: E402

FIGURES: dict[str, Callable[[], Any]] = {
    "a": schedule_figures.figure_build,
    "b": schedule_figures.figure_due,
    "c": schedule_figures.figure_sequence,
    "d": run_figures.figure_execution,
    "e": run_figures.figure_memory,
}
COLUMNS = ("figure", "ours", "baseline", "ratio", "target", "met")


def main(selected: list[str]) -> int:
    rows: list[dict[str, Any]] = []
    for key in selected or list(FIGURES):
        result = FIGURES[key]()
        new_rows = result if isinstance(result, list) else [result]
        for row in new_rows:
            print(" | ".join(str(row[column]) for column in COLUMNS), flush=True)

        rows.extend(new_rows)

    print()
    print(_table(rows))
    return 0


def _table(rows: list[dict[str, Any]]) -> str:
    cells = [[str(row[column]) for column in COLUMNS] for row in rows]
    widths = [
        max(len(column), *(len(line[i]) for line in cells))
        for i, column in enumerate(COLUMNS)
    ]
    lines = [" | ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    lines.append("-+-".join("-" * width for width in widths))
    lines.extend(
        " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
        for line in cells
    )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
