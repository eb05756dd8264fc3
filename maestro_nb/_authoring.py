"""Writing projects, pipelines and tags: the notebooks a user starts from.

The notebooks come from the templates shipped in ``maestro_nb/templates/``;
the orchestrator template is a copy of the sample project's
``orchestrator.ipynb``. Tags are validated with the scheduler's own parser
before anything is written, and no existing file is replaced unless the
caller says ``overwrite=True``.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import nbformat

from ._exceptions import TagError
from ._notebooks import NOTEBOOK_SUFFIX
from ._tags import PipelineSpec, TagErrors, parse_tags

__all__ = ["create_maestro", "create_orchestrator", "create_pipeline", "set_tags"]

ORCHESTRATOR_FILE = "orchestrator.ipynb"
EXAMPLE_PIPELINE = "example_pipeline"
_NAME_PLACEHOLDER = "PIPELINE_NAME"
_SAFE_NAME = re.compile(r"\w[\w.-]*")

_README = """\
# {title}

A maestro_nb project: each notebook in `pipelines/` says in its first cell's
metadata (`maestro`) how often it runs; `orchestrator.ipynb` runs the ones due.

```bash
pip install -r requirements.txt
maestro-nb schedule                # what is scheduled
maestro-nb run --run-all           # run every pipeline now
maestro-nb new pipeline daily_sales --frequency "1 day" --start-time 06:00:00
papermill orchestrator.ipynb runs/orchestrator.ipynb -p orch_frequency "1 day"
```

Run the orchestrator (or `maestro-nb run`) on a timer at its `orch_frequency`:
cron, Posit Connect or JupyterHub. Executed notebooks and logs go to `runs/`.
"""


def create_maestro(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Lay out a new project that runs as it is.

    Writes ``orchestrator.ipynb``, ``pipelines/example_pipeline.ipynb`` (daily
    at midnight UTC), a ``README.md`` and a ``requirements.txt``, and makes
    the empty ``runs/`` folder.

    Args:
        path: the project folder; created if missing.
        overwrite: replace files that already exist.

    Returns:
        The project folder.

    Raises:
        FileExistsError: one of the files exists and ``overwrite`` is false;
            nothing is written then.
    """
    project = Path(path)
    targets = [
        project / ORCHESTRATOR_FILE,
        project / "pipelines" / f"{EXAMPLE_PIPELINE}.ipynb",
        project / "README.md",
        project / "requirements.txt",
    ]
    for target in targets:
        _refuse_existing(target, overwrite)

    create_orchestrator(project, overwrite=overwrite)
    create_pipeline(
        EXAMPLE_PIPELINE,
        project / "pipelines",
        start_time="00:00:00",
        overwrite=overwrite,
    )
    title = project.resolve().name or "maestro_nb project"
    _write_text(targets[2], _README.format(title=title))
    _write_text(targets[3], "maestro_nb\n")
    # papermill writes the executed orchestrator into runs/ but never creates it.
    (project / "runs").mkdir(exist_ok=True)
    return project


def create_orchestrator(
    path: str | os.PathLike[str] = ".", overwrite: bool = False
) -> Path:
    """Write the orchestrator notebook.

    Args:
        path: a folder (the notebook is ``orchestrator.ipynb`` in it) or the
            ``.ipynb`` file to write.
        overwrite: replace the file if it exists.

    Returns:
        The notebook written.

    Raises:
        FileExistsError: the file exists and ``overwrite`` is false.
    """
    target = Path(path)
    if target.suffix != NOTEBOOK_SUFFIX:
        target = target / ORCHESTRATOR_FILE

    _refuse_existing(target, overwrite)
    _write_text(target, template_text(ORCHESTRATOR_FILE))
    return target


def create_pipeline(
    name: str,
    pipeline_dir: str | os.PathLike[str] = "pipelines",
    frequency: str = "1 day",
    start_time: str | None = None,
    tz: str = "UTC",
    *,
    hours: str | list[int] | None = None,
    days: str | list[int | str] | None = None,
    months: str | list[int] | None = None,
    skip: bool = False,
    log_level: str | None = None,
    priority: int | None = None,
    flags: list[str] | None = None,
    labels: dict[str, str] | None = None,
    inputs: list[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a pipeline notebook whose first cell carries valid tags.

    The first cell is papermill's parameters cell, declaring
    ``maestro_scheduled_time`` and ``maestro_run_id``; the notebook names the
    ``python3`` kernel, so it runs as written.

    Args:
        name: the pipeline's name, the notebook's file stem.
        pipeline_dir: the folder to write ``<name>.ipynb`` in.
        frequency: the ``frequency`` tag (``"1 day"``, ``"15 minutes"``).
        start_time: the ``startTime`` tag; left out when None.
        tz: the ``tz`` tag.
        hours: the ``hours`` tag.
        days: the ``days`` tag.
        months: the ``months`` tag.
        skip: the ``skip`` tag.
        log_level: the ``logLevel`` tag.
        priority: the ``priority`` tag.
        flags: the ``flags`` tag.
        labels: the ``labels`` tag.
        inputs: the ``inputs`` tag (upstream pipelines).
        overwrite: replace the notebook if it exists.

    Returns:
        The notebook written.

    Raises:
        TagError: a tag or the name is not valid (nothing is written).
        FileExistsError: the notebook exists and ``overwrite`` is false.
    """
    target = Path(pipeline_dir) / f"{name}{NOTEBOOK_SUFFIX}"
    if not _SAFE_NAME.fullmatch(name):
        raise TagError(
            "a pipeline name is letters, digits, '_', '.' and '-', not starting "
            "with '.' or '-'",
            path=target,
            tag="name",
            value=name,
        )

    given = {
        "frequency": frequency,
        "startTime": start_time,
        "tz": tz,
        "hours": hours,
        "days": days,
        "months": months,
        "skip": skip or None,
        "logLevel": log_level,
        "priority": priority,
        "flags": flags,
        "labels": labels,
        "inputs": inputs,
    }
    tags = {key: value for key, value in given.items() if value is not None}
    validate_tags(tags, target)
    _refuse_existing(target, overwrite)
    notebook = _read_template("pipeline.ipynb")
    notebook.cells[0].metadata["maestro"] = tags
    for cell in notebook.cells:
        cell.source = cell.source.replace(_NAME_PLACEHOLDER, name)

    _write_notebook(target, notebook)
    return target


def set_tags(
    path: str | os.PathLike[str], tags: dict[str, Any], replace: bool = False
) -> dict[str, Any]:
    """Set ``maestro`` tags in a notebook's first cell, in place.

    The given tags are merged into those already there (or replace them all
    with ``replace``); the result is validated before the file is touched,
    and the rest of the notebook is written back unchanged.

    Args:
        path: the pipeline notebook (``.ipynb``).
        tags: the tags to set, by their metadata key (``startTime``).
        replace: drop the tags that are not given.

    Returns:
        The tags now in the notebook.

    Raises:
        TagError: the merged tags are not valid, or the file is not an
            ``.ipynb`` notebook with a cell.
    """
    notebook_path = Path(path)
    if notebook_path.suffix != NOTEBOOK_SUFFIX:
        raise TagError(
            "tags can be set only in an .ipynb notebook; edit the first cell's "
            "metadata of a text notebook by hand",
            path=notebook_path,
        )

    notebook = nbformat.read(str(notebook_path), as_version=4)  # type: ignore[no-untyped-call]
    if not notebook.cells:
        raise TagError(
            "the notebook has no cells to carry the tags", path=notebook_path
        )

    metadata = notebook.cells[0].metadata
    old = {} if replace else dict(metadata.get("maestro") or {})
    merged = {**old, **tags}
    validate_tags(merged, notebook_path)
    metadata["maestro"] = merged
    _write_notebook(notebook_path, notebook)
    return merged


def validate_tags(tags: dict[str, Any], path: Path) -> PipelineSpec:
    """Return the spec the tags make, or raise one :class:`TagError` for them all.

    Raises:
        TagError: at least one tag is not valid; the message names each.
    """
    try:
        return parse_tags(tags, name=path.stem, path=path)
    except TagErrors as problems:
        if len(problems.errors) == 1:
            raise problems.errors[0] from None

        reasons = "; ".join(str(error) for error in problems.errors)
        raise TagError(reasons) from None


def template_text(name: str) -> str:
    """Return a shipped notebook template's text (``orchestrator.ipynb``)."""
    folder = resources.files("maestro_nb").joinpath("templates")
    return folder.joinpath(name).read_text("utf-8")


def _read_template(name: str) -> Any:
    return nbformat.reads(template_text(name), as_version=4)  # type: ignore[no-untyped-call]


def _refuse_existing(target: Path, overwrite: bool) -> None:
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target} already exists; pass overwrite=True (--overwrite) to replace it"
        )


def _write_text(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _write_notebook(target: Path, notebook: Any) -> None:
    _write_text(target, nbformat.writes(notebook) + "\n")  # type: ignore[no-untyped-call]
