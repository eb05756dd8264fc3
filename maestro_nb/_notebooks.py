"""Finding pipeline notebooks and reading what scheduling needs from them.

Scheduling needs only a notebook's first cell: its ``maestro`` metadata and,
when it is papermill's ``parameters`` cell, the names it assigns. Everything
else in the file (outputs can weigh megabytes) is left alone.

Pipelines may also be text notebooks read through jupytext, so that they
review well in git: ``.py`` files in the percent format (a ``# %%`` cell
marker) and ``.md`` files with a jupytext header. Other ``.py`` and ``.md``
files (helper modules, READMEs) are not pipelines.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import jupytext
import nbformat

from ._exceptions import TagError

__all__ = ["FirstCell", "find_notebooks", "load_notebook", "read_first_cell"]

CHECKPOINTS = ".ipynb_checkpoints"
NOTEBOOK_SUFFIX = ".ipynb"
TEXT_SUFFIXES = (".py", ".md")
DEFAULT_KERNELSPEC = {
    "name": "python3",
    "display_name": "Python 3",
    "language": "python",
}


@dataclass(frozen=True)
class FirstCell:
    """What scheduling reads from a pipeline notebook."""

    tags: object
    has_tags: bool
    declared_parameters: frozenset[str] | None
    kernel_name: str | None = None
    cell_type: str = "code"


def find_notebooks(pipeline_dir: Path, exclude: list[Path]) -> Iterator[Path]:
    """Yield every notebook under ``pipeline_dir``, sorted, recursively.

    Checkpoint folders, hidden folders and anything under an ``exclude``
    folder (the output directory) are never pipelines.
    """
    excluded = [path.resolve() for path in exclude]
    for path in sorted(pipeline_dir.rglob("*")):
        relative = path.relative_to(pipeline_dir)
        if any(part == CHECKPOINTS or part.startswith(".") for part in relative.parts):
            continue

        resolved = path.resolve()
        if any(resolved.is_relative_to(folder) for folder in excluded):
            continue

        if path.suffix == NOTEBOOK_SUFFIX or is_text_notebook(path):
            yield path


def is_text_notebook(path: Path) -> bool:
    """Whether a ``.py`` or ``.md`` file is a jupytext notebook."""
    if path.suffix not in TEXT_SUFFIXES or not path.is_file():
        return False

    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:20_000]
    except OSError:
        return False

    if path.suffix == ".py":
        return any(line.startswith("# %%") for line in head.splitlines())

    return head.startswith("---") and "jupytext:" in head.split("\n---", 1)[0]


def load_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a whole pipeline notebook, converting text notebooks on the way.

    A text notebook rarely names a kernel, so one without a kernelspec gets
    the ``python3`` kernel explicitly.
    """
    if path.suffix == NOTEBOOK_SUFFIX:
        loaded: nbformat.NotebookNode = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
        return loaded

    notebook: nbformat.NotebookNode = jupytext.read(path)
    notebook.metadata.setdefault("kernelspec", dict(DEFAULT_KERNELSPEC))
    return notebook


def read_first_cell(path: Path) -> FirstCell:
    """Read the first cell's ``maestro`` tags and declared parameters.

    The file is parsed as a stream and reading stops once the first cell is
    complete, so a notebook carrying megabytes of outputs costs no more than
    an empty one; the keys may come in any order.

    Raises:
        TagError: the file is not a readable nbformat 4 notebook with cells.
    """
    if path.suffix in TEXT_SUFFIXES:
        return _first_text_cell(path)

    try:
        with path.open("rb") as handle:
            first = _first_item_of_cells(handle)
    except UnicodeDecodeError:
        raise TagError("the file is not UTF-8 text", path=path) from None
    except ijson.JSONError as error:
        raise TagError(
            f"the file is not valid JSON ({_json_reason(error)})", path=path
        ) from None
    except OSError as error:
        raise TagError(
            f"the file cannot be read: {error.strerror}", path=path
        ) from None

    if first is _NO_CELLS:
        raise TagError(
            "not an nbformat 4 notebook with cells (no cells, or an nbformat 3 "
            "file); its first cell must carry the 'maestro' tags in its metadata, "
            "so save it with Jupyter 4 or later",
            path=path,
        )

    if not isinstance(first, dict):
        raise TagError("the first cell is not a JSON object", path=path)

    cell = _first_cell(first)
    return replace(cell, kernel_name=read_kernel_name(path))


_EDGE_BYTES = 65_536
_KERNELSPEC = re.compile(r'"kernelspec"\s*:\s*')


def read_kernel_name(path: Path) -> str | None:
    """Return the notebook's kernelspec name without parsing the whole file.

    The notebook-level metadata sits either after all the cells (nbformat
    writes keys sorted) or before them, so only the last and first 64 KiB are
    searched: the last mention of a kernelspec near the end, else the first
    near the start. A cell whose text itself spells out a kernelspec near the
    end of an unsorted file could mislead this; nbformat never writes one.
    """
    with path.open("rb") as handle:
        head = handle.read(_EDGE_BYTES)
        handle.seek(max(0, path.stat().st_size - _EDGE_BYTES))
        tail = handle.read()

    for text, pick_last in ((tail, True), (head, False)):
        name = _kernelspec_name(text.decode("utf-8", errors="replace"), pick_last)
        if name is not None:
            return name

    return None


def _kernelspec_name(text: str, pick_last: bool) -> str | None:
    matches = list(_KERNELSPEC.finditer(text))
    for match in reversed(matches) if pick_last else matches:
        try:
            spec, _ = json.JSONDecoder().raw_decode(text, match.end())
        except ValueError:
            continue

        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            return str(spec["name"])

    return None


def _first_text_cell(path: Path) -> FirstCell:
    try:
        notebook = jupytext.read(path)
    except Exception as error:  # jupytext raises many kinds on bad text
        raise TagError(f"jupytext cannot read it: {error}", path=path) from None

    if not notebook.cells:
        raise TagError("the text notebook has no cells", path=path)

    kernelspec = notebook.metadata.get("kernelspec") or DEFAULT_KERNELSPEC
    cell = _first_cell(dict(notebook.cells[0]))
    return replace(cell, kernel_name=str(kernelspec.get("name", "python3")))


_NO_CELLS = object()
_BOM = b"\xef\xbb\xbf"
# A first cell is usually a few hundred bytes; small reads keep the parser
# from chewing through the outputs that follow it.
_FIRST_READ = 4096
_LARGEST_READ = 1 << 20


class _GrowingReader:
    """A binary file whose reads double in size, from 4 KiB up to 1 MiB.

    A first cell is usually a few hundred bytes, so small first reads keep
    the parser from chewing through the outputs after it; a first cell with
    megabytes of output of its own still parses in a few large reads.
    """

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.size = _FIRST_READ

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""  # ijson probes the type of the stream this way

        chunk = self.handle.read(self.size)
        self.size = min(self.size * 2, _LARGEST_READ)
        return chunk


def _first_item_of_cells(handle: BinaryIO) -> object:
    """Return the first element of the top-level ``cells`` list, or _NO_CELLS.

    The C parser refuses integers beyond 64 bits, which are valid JSON, so
    such a file is read again with ijson's pure-Python parser.
    """
    if handle.read(3) != _BOM:
        handle.seek(0)

    start = handle.tell()
    try:
        return _first_item(ijson, handle)
    except ijson.JSONError as error:
        if "integer overflow" not in str(error):
            raise

    handle.seek(start)
    return _first_item(ijson.get_backend("python"), handle)


def _first_item(backend: Any, handle: BinaryIO) -> object:
    reader = _GrowingReader(handle)
    for cell in backend.items(reader, "cells.item", buf_size=_FIRST_READ):
        return cell

    return _NO_CELLS


def _json_reason(error: Exception) -> str:
    """Return the first line of the parser's message, as text."""
    detail = error.args[0] if error.args else ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", errors="replace")

    lines = str(detail).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _first_cell(cell: dict[str, Any]) -> FirstCell:
    metadata = cell.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    has_tags = "maestro" in metadata
    is_parameters = "parameters" in (metadata.get("tags") or [])
    declared = None
    if is_parameters and cell.get("cell_type") == "code":
        declared = assigned_names(_source_text(cell.get("source", "")))

    cell_type = str(cell.get("cell_type", "code"))
    return FirstCell(metadata.get("maestro"), has_tags, declared, cell_type=cell_type)


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
