"""Finding pipeline notebooks and reading what scheduling needs from them.

Scheduling needs only a notebook's first cell: its ``maestro`` metadata and,
when it is papermill's ``parameters`` cell, the names it assigns. Everything
else in the file (outputs can weigh megabytes) is left alone.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._exceptions import TagError

__all__ = ["FirstCell", "find_notebooks", "read_first_cell"]

CHECKPOINTS = ".ipynb_checkpoints"
NOTEBOOK_SUFFIX = ".ipynb"


@dataclass(frozen=True)
class FirstCell:
    """What scheduling reads from a pipeline notebook."""

    tags: object
    has_tags: bool
    declared_parameters: frozenset[str] | None


def find_notebooks(pipeline_dir: Path, exclude: list[Path]) -> Iterator[Path]:
    """Yield every notebook under ``pipeline_dir``, sorted, recursively.

    Checkpoint folders, hidden folders and anything under an ``exclude``
    folder (the output directory) are never pipelines.
    """
    excluded = [path.resolve() for path in exclude]
    for path in sorted(pipeline_dir.rglob(f"*{NOTEBOOK_SUFFIX}")):
        relative = path.relative_to(pipeline_dir)
        if any(part == CHECKPOINTS or part.startswith(".") for part in relative.parts):
            continue

        resolved = path.resolve()
        if any(resolved.is_relative_to(folder) for folder in excluded):
            continue

        yield path


def read_first_cell(path: Path) -> FirstCell:
    """Read the first cell's ``maestro`` tags and declared parameters.

    Raises:
        TagError: the file is not a readable nbformat 4 notebook with cells.
    """
    notebook = _load_json(path)
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise TagError(
            "not an nbformat 4 notebook (no 'cells' list); save it with "
            "Jupyter 4 or later",
            path=path,
        )

    if not cells or not isinstance(cells[0], dict):
        raise TagError(
            "the notebook has no cells; its first cell must carry the "
            "'maestro' tags in its metadata",
            path=path,
        )

    return _first_cell(cells[0])


def _load_json(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            return json.load(handle)
    except UnicodeDecodeError:
        raise TagError("the file is not UTF-8 text", path=path) from None
    except json.JSONDecodeError as error:
        raise TagError(
            f"the file is not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg})",
            path=path,
        ) from None
    except OSError as error:
        raise TagError(
            f"the file cannot be read: {error.strerror}", path=path
        ) from None


def _first_cell(cell: dict[str, Any]) -> FirstCell:
    metadata = cell.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    has_tags = "maestro" in metadata
    is_parameters = "parameters" in (metadata.get("tags") or [])
    declared = None
    if is_parameters and cell.get("cell_type") == "code":
        declared = assigned_names(_source_text(cell.get("source", "")))

    return FirstCell(metadata.get("maestro"), has_tags, declared)


def _source_text(source: object) -> str:
    if isinstance(source, list):
        return "".join(str(line) for line in source)

    return str(source)


def assigned_names(source: str) -> frozenset[str]:
    """Return the names a parameters cell assigns at its top level.

    A cell that does not parse (IPython magics, say) declares nothing we can
    see; papermill then still injects, but we cannot tell which names exist.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return frozenset()

    names: set[str] = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]

        for target in targets:
            names.update(_target_names(target))

    return frozenset(names)


def _target_names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element)
