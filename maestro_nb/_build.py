"""Building a schedule: every pipeline notebook of a folder, read and checked.

A notebook that cannot be scheduled (unreadable, untagged, bad tags, a kernel
that is not installed, a name clash, a broken DAG edge) becomes a build
error; it never stops the others.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from functools import cache
from pathlib import Path

from ._dag import check_dag
from ._exceptions import ScheduleBuildError, TagError
from ._notebooks import find_notebooks, read_first_cell
from ._schedule import BuildError, Schedule
from ._tags import PipelineSpec, TagErrors, parse_tags

__all__ = ["build_schedule", "installed_kernels"]

logger = logging.getLogger(__name__)


def build_schedule(
    pipeline_dir: str | os.PathLike[str] = "pipelines",
    quiet: bool = False,
    *,
    output_dir: str | os.PathLike[str] | None = "runs",
) -> Schedule:
    """Read every pipeline notebook under ``pipeline_dir`` into a schedule.

    A notebook that cannot be scheduled is recorded in the schedule's build
    errors; it never stops the others.

    Args:
        pipeline_dir: the folder of pipeline notebooks (searched recursively).
        quiet: do not print the build summary.
        output_dir: the runs folder, never read as pipelines.

    Raises:
        ScheduleBuildError: ``pipeline_dir`` is not a folder.
    """
    folder = Path(pipeline_dir)
    if not folder.is_dir():
        raise ScheduleBuildError(
            "the pipeline folder does not exist; create it or pass pipeline_dir=",
            path=folder,
        )

    exclude = [Path(output_dir)] if output_dir is not None else []
    paths = list(find_notebooks(folder, exclude))
    specs, errors = _read_pipelines(paths)
    dag = check_dag(specs, {error.pipe_name for error in errors})
    errors.extend(BuildError.from_tag_error(name, e) for name, e in dag.errors)
    schedule = Schedule(dag.specs, errors, folder)
    schedule.build_warnings = dag.warnings + _step_warnings(dag.specs)
    _log_build(schedule, len(paths), quiet)
    return schedule


def _step_warnings(specs: list[PipelineSpec]) -> list[str]:
    """Warn where a sub-daily step of a day or more meets a daily restart.

    Without a full start date a sub-daily series restarts every local day,
    so ``"48 hours"`` runs once a day: almost certainly not what was meant.
    """
    return [
        f"{spec.path}: tag 'frequency' = {spec.frequency_text!r} restarts every "
        "local day without a full start date, so it runs once a day; give "
        "startTime as 'YYYY-MM-DD HH:MM:SS' to step in elapsed time, or use days"
        for spec in specs
        if spec.frequency.is_sub_daily
        and spec.frequency.seconds >= 86_400
        and spec.start.kind != "full"
    ]


def _read_pipelines(paths: list[Path]) -> tuple[list[PipelineSpec], list[BuildError]]:
    """Parse every notebook; duplicates of a name are errors for all of them."""
    counts = Counter(path.stem for path in paths)
    specs: list[PipelineSpec] = []
    errors: list[BuildError] = []
    for path in paths:
        name = path.stem
        if counts[name] > 1:
            others = [str(p) for p in paths if p.stem == name and p != path]
            reason = (
                f"pipeline name {name!r} is also used by {', '.join(others)}; "
                "names (file stems) must be unique, so rename one"
            )
            errors.append(BuildError.from_tag_error(name, TagError(reason, path=path)))
            continue

        try:
            specs.append(_read_pipeline(path))
        except TagErrors as problems:
            errors.extend(BuildError.from_tag_error(name, e) for e in problems.errors)

    return specs, errors


def _read_pipeline(path: Path) -> PipelineSpec:
    try:
        first = read_first_cell(path)
    except TagError as error:
        raise TagErrors([error]) from None

    if not first.has_tags:
        kind = "" if first.cell_type == "code" else f" (a {first.cell_type} cell)"
        missing = TagError(
            f"the first cell{kind} has no 'maestro' metadata; add "
            '{"maestro": {"frequency": "1 day"}} to the metadata of the first '
            'cell, normally the parameters cell (or {"maestro": {}} for every '
            "default)",
            path=path,
        )
        raise TagErrors([missing])

    problems = [*_name_problems(path), *_kernel_problems(path, first.kernel_name)]
    try:
        spec = parse_tags(
            first.tags,
            name=path.stem,
            path=path,
            declared_parameters=first.declared_parameters,
        )
    except TagErrors as tag_problems:
        problems.extend(tag_problems.errors)

    if problems:
        raise TagErrors(problems)

    return spec


_SAFE_NAME = re.compile(r"\w[\w.-]*")
_LONGEST_NAME = 100


def _name_problems(path: Path) -> list[TagError]:
    """A name is used in paths and in DAG tags: no spaces, quotes or slashes."""
    if len(path.stem) > _LONGEST_NAME:
        return [
            TagError(
                f"the pipeline name (the file stem) is {len(path.stem)} characters "
                f"long; keep it to {_LONGEST_NAME} so run folders and pages stay "
                "usable, and rename the file",
                path=path,
            )
        ]

    if _SAFE_NAME.fullmatch(path.stem):
        return []

    return [
        TagError(
            f"the pipeline name {path.stem!r} (the file stem) may hold only "
            "letters, digits, '_', '-' and '.', and must start with a letter, "
            "digit or '_'; rename the file",
            path=path,
        )
    ]


def _kernel_problems(path: Path, kernel_name: str | None) -> list[TagError]:
    """Refuse a notebook papermill could not start a kernel for."""
    if kernel_name is None and _looks_truncated(path):
        return [
            TagError(
                "the file is cut short (it does not end with the closing '}' of a "
                "notebook); restore it from version control or re-save it",
                path=path,
            )
        ]

    if kernel_name is None:
        return [
            TagError(
                "the notebook names no kernel (no 'kernelspec' in its metadata); "
                "open it in Jupyter and pick a kernel, or run "
                f"'jupytext --set-kernel python3 {path}'",
                path=path,
            )
        ]

    installed = installed_kernels()
    if kernel_name in installed:
        return []

    return [
        TagError(
            f"its kernel {kernel_name!r} is not installed here (installed: "
            f"{', '.join(sorted(installed)) or 'none'}); install it, e.g. "
            f"'python -m ipykernel install --user --name {kernel_name}'",
            path=path,
        )
    ]


def _looks_truncated(path: Path) -> bool:
    """Whether a notebook file does not end as a JSON object does."""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 64))
        return not handle.read().rstrip().endswith(b"}")


@cache
def installed_kernels() -> frozenset[str]:
    """Return the names of the kernels installed (looked up once per process)."""
    from jupyter_client.kernelspec import KernelSpecManager

    return frozenset(KernelSpecManager().find_kernel_specs())


def _log_build(schedule: Schedule, found: int, quiet: bool) -> None:
    built = len(schedule.pipelines)
    logger.info("built %d of %d pipeline notebooks", built, found)
    for error in schedule.build_errors:
        # A notebook left out is the user's to fix, not a failure of the run.
        logger.warning("build error: %s", error.message)

    for warning in schedule.build_warnings:
        logger.warning("build warning: %s", warning)

    if quiet:
        return

    print(f"maestro_nb: {built} of {found} pipelines scheduled")
    for error in schedule.build_errors:
        print(f"  build error: {error.message}")

    for warning in schedule.build_warnings:
        print(f"  build warning: {warning}")
