"""Handing an upstream value to a downstream kernel as ``maestro_input``.

A small JSON-able value travels as an ordinary papermill parameter, so the
executed notebook shows it. Anything else (a DataFrame, a large list, several
upstream values) stays in files under the runs folder: the downstream
notebook gets a loader cell, inserted after its parameters, that reads them
in the kernel. The orchestrator only ever holds a value while it evaluates a
``runIf`` or splits a ``map``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from ._notebooks import load_notebook
from ._results import JSON_SUFFIX

__all__ = [
    "INPUT_PARAMETER",
    "Handoff",
    "LOADER_TAG",
    "file_handoff",
    "with_loader_cell",
]

INPUT_PARAMETER = "maestro_input"
LOADER_TAG = "injected-maestro-input"
# Values up to this many bytes of JSON are passed inline; beyond that a file
# is cheaper than a papermill parameter cell the size of the value.
INLINE_LIMIT = 16_384


@dataclass(frozen=True)
class Handoff:
    """How one run receives ``maestro_input``.

    Attributes:
        value: the value itself, passed as a papermill parameter (when
            ``files`` is None).
        files: a path, or a list or dict of paths (``None`` leaves for an
            upstream without a value), read in the kernel by a loader cell.
    """

    value: object = None
    files: object = None

    @property
    def needs_loader(self) -> bool:
        """Whether the value reaches the kernel through files."""
        return self.files is not None


def file_handoff(files: object) -> Handoff:
    """Return the handoff of a tree of value files, inlining one small JSON file."""
    if files is None:
        return Handoff()

    if isinstance(files, str) and files.endswith(JSON_SUFFIX):
        path = Path(files)
        if path.stat().st_size <= INLINE_LIMIT:
            return Handoff(value=json.loads(path.read_text(encoding="utf-8")))

    return Handoff(files=files)


def with_loader_cell(source: Path, target: Path, handoff: Handoff) -> Path:
    """Write ``source`` to ``target`` with a loader cell after its parameters.

    papermill puts its injected parameters right after the ``parameters``
    cell, so the loader runs after them and its ``maestro_input`` wins.

    Returns:
        ``target``.
    """
    notebook = load_notebook(source)
    cell = nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
        _loader_source(handoff.files), metadata={"tags": [LOADER_TAG]}
    )
    notebook.cells.insert(_after_parameters(notebook), cell)
    nbformat.write(notebook, str(target))  # type: ignore[no-untyped-call]
    return target


def _loader_source(files: object) -> str:
    return (
        "# Injected by maestro_nb: the upstream value, read from the run files.\n"
        "from maestro_nb._results import read_value as _maestro_read_value\n\n"
        f"{INPUT_PARAMETER} = _maestro_read_value({files!r})\n"
        "del _maestro_read_value"
    )


def _after_parameters(notebook: Any) -> int:
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return index + 1

    return 0
