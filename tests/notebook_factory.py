"""Write small pipeline notebooks for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat


def write_pipeline(
    folder: Path,
    name: str,
    tags: dict[str, Any] | None,
    source: str = "",
    cells: list[str] = (),  # type: ignore[assignment]
) -> Path:
    """Write ``folder/name.ipynb`` whose first cell carries ``tags`` (None: no key)."""
    metadata: dict[str, Any] = {"tags": ["parameters"]}
    if tags is not None:
        metadata["maestro"] = tags

    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell(source, metadata=metadata))
    notebook.cells.extend(nbformat.v4.new_code_cell(cell) for cell in cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def reference_tags(tags: dict[str, str]) -> dict[str, str]:
    """Turn the reference's ``maestroStartTime`` keys into ours (``startTime``)."""
    return {
        key[len("maestro")].lower() + key[len("maestro") + 1 :]: value
        for key, value in tags.items()
    }


# A parameters cell that takes an upstream value, and a cell handing one back.
TAKES = "maestro_input = None"
OUT = "import maestro_nb\nmaestro_nb.output({})"


def write_map_collect_dag(folder: Path) -> None:
    """numbers -> divide (one run per element, 12 // 0 fails) -> total (collect)."""
    write_pipeline(folder, "numbers", {}, "", [OUT.format("[4, 0, 2]")])
    write_pipeline(
        folder,
        "divide",
        {"inputs": "numbers", "map": ""},
        TAKES,
        [OUT.format("12 // maestro_input")],
    )
    write_pipeline(
        folder,
        "total",
        {"inputs": "collect(divide)"},
        TAKES,
        [OUT.format("maestro_input")],
    )
