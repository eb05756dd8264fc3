"""One papermill run of one pipeline, in a fresh kernel of its own.

Every run gets files of its own under ``<output_dir>/<pipe_name>/``, all named
``<UTC start>_<run id>`` so a later run never overwrites an earlier one:

* ``<stem>.ipynb``: the executed notebook (kept when the notebook fails);
* ``<stem>_files/``: the folder :func:`maestro_nb.run_dir` returns;
* ``<stem>.artifact.json`` or ``.artifact.pickle``: what ``output()`` wrote;
* ``<stem>.events.jsonl``: the warnings and messages counted in the kernel;
* ``<stem>.kernel.log``: the kernel process's own stdout and stderr.

The kernel starts in the notebook's folder, as Jupyter would start it, and is
told where those files go through its environment.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from ._capture import EVENTS_ENV, read_events
from ._exceptions import PipelineExecutionError
from ._faults import KERNELS, Watchdog, dead_kernel_error, outcome, run_attempts
from ._handoff import INPUT_PARAMETER, Handoff, with_loader_cell
from ._kernels import LOG_FOLDER, KernelKey, KernelPool
from ._localtime import UTC
from ._notebooks import NOTEBOOK_SUFFIX, assigned_names, load_notebook
from ._results import ARTIFACT_ENV, RUN_DIR_ENV, artifact_file
from ._secrets import (
    SECRET_TAG,
    redact_file,
    redact_notebook,
    redact_text,
    secret_cell_source,
    secret_env,
    split_secrets,
)
from ._status import RunRecord, RunState
from ._tags import PipelineSpec

__all__ = ["RunFiles", "execute_pipeline", "injected_parameters"]

logger = logging.getLogger(__name__)

SCHEDULED_TIME_PARAMETER = "maestro_scheduled_time"
RUN_ID_PARAMETER = "maestro_run_id"
DEFAULT_KERNEL = "python3"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class RunFiles:
    """The files of one run, all beside its executed notebook."""

    notebook: Path
    artifact: Path
    events: Path
    kernel_log: Path
    files: Path

    @classmethod
    def reserve(cls, output_dir: Path, pipe_name: str, started: datetime) -> RunFiles:
        """Create the executed notebook's file exclusively under a fresh run id.

        Raises:
            OSError: the folder cannot be created or written.
            ValueError: the pipeline's folder would fall outside ``output_dir``.
        """
        folder = output_dir / pipe_name
        if not folder.resolve().is_relative_to(output_dir.resolve()) or (
            folder.resolve() == output_dir.resolve()
        ):
            raise ValueError(f"pipeline name {pipe_name!r} leaves the output folder")

        folder.mkdir(parents=True, exist_ok=True)
        while True:
            stem = f"{started:%Y%m%dT%H%M%SZ}_{uuid.uuid4().hex[:12]}"
            notebook = folder / f"{stem}.ipynb"
            try:
                notebook.open("x").close()
            except FileExistsError:
                continue

            return cls(
                notebook=notebook,
                artifact=folder / f"{stem}.artifact",
                events=folder / f"{stem}.events.jsonl",
                kernel_log=folder / f"{stem}.kernel.log",
                files=folder / f"{stem}_files",
            )

    @property
    def run_id(self) -> str:
        """The run id: the part of the file stem after the timestamp."""
        return self.notebook.stem.split("_", 1)[1]

    def kernel_env(self) -> dict[str, str]:
        """Return the variables that tell the kernel where this run's files go."""
        return {
            ARTIFACT_ENV: str(self.artifact.resolve()),
            RUN_DIR_ENV: str(self.files.resolve()),
            EVENTS_ENV: str(self.events.resolve()),
        }


def injected_parameters(
    spec: PipelineSpec, offered: dict[str, object]
) -> dict[str, object]:
    """Return the offered parameters that the notebook's parameters cell declares.

    When scheduling could not read the declared names (the first cell is not
    the parameters cell), the first cell tagged ``parameters`` decides, as it
    does for papermill.
    """
    declared = spec.declared_parameters
    if declared is None:
        declared = _parameters_cell_names(load_notebook(spec.path))

    return {name: value for name, value in offered.items() if name in declared}


def _parameters_cell_names(notebook: Any) -> frozenset[str]:
    for cell in notebook.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return assigned_names(cell.source)

    return frozenset()


def execute_pipeline(
    spec: PipelineSpec,
    output_dir: Path,
    *,
    resources: dict[str, object] | None = None,
    scheduled_time: datetime | None = None,
    handoff: Handoff | None = None,
    kernels: KernelPool | None = None,
) -> RunRecord:
    """Run one pipeline notebook with papermill in a fresh kernel.

    A failure of the notebook (or of its kernel) never raises: it is recorded
    in the returned record, and the executed notebook is kept. The spec's
    ``timeout`` bounds the whole notebook and its ``retries`` run it again
    after a failure, each attempt with files of its own (see ``_faults``).

    Args:
        spec: the pipeline to run.
        output_dir: the runs folder; the run's files go in a sub-folder.
        resources: values offered as parameters to every pipeline.
        scheduled_time: the cycle point that made the pipeline due.
        handoff: how the upstream value reaches the notebook as
            ``maestro_input`` (a downstream run only).
        kernels: the pool that starts kernels ahead of their runs; without
            one, the run starts its own kernel.

    Returns:
        The run's record: state, times, error, warnings, messages, artifact.
    """
    if kernels is None:
        with KernelPool(output_dir / LOG_FOLDER) as own:
            return execute_pipeline(
                spec,
                output_dir,
                resources=resources,
                scheduled_time=scheduled_time,
                handoff=handoff,
                kernels=own,
            )

    def attempt(number: int) -> RunRecord:
        record = _execute_once(
            spec, output_dir, resources, scheduled_time, handoff, kernels
        )
        record.attempt = number
        return record

    return run_attempts(attempt, spec.retries or 0, spec.retry_delay or 0.0)


def _execute_once(
    spec: PipelineSpec,
    output_dir: Path,
    resources: dict[str, object] | None,
    scheduled_time: datetime | None,
    handoff: Handoff | None,
    kernels: KernelPool,
) -> RunRecord:
    started = datetime.now(UTC)
    if KERNELS.stopping.is_set():
        return _not_started(spec, scheduled_time)

    files = RunFiles.reserve(output_dir, spec.name, started)
    record = RunRecord(
        spec.name,
        spec.path,
        RunState.RUNNING,
        run_id=files.run_id,
        scheduled_time=scheduled_time,
        started=started,
        output_notebook=files.notebook,
    )
    logger.info("%s: run %s started", spec.path, record.run_id)
    offered = dict(resources or {})
    if handoff is not None and not handoff.needs_loader:
        offered[INPUT_PARAMETER] = handoff.value

    offered, secrets = split_secrets(offered)
    with Watchdog(spec.timeout) as watch:
        error = _run_papermill(
            spec,
            files,
            offered,
            scheduled_time,
            handoff,
            secrets=secrets,
            watch=watch,
            kernels=kernels,
        )

    if error is None:
        error = _stopped_early(spec, files)

    record.ended = datetime.now(UTC)
    record.state = outcome(error, watch)
    record.error = _described(error, record.state, spec.timeout, watch)
    _redact_run(record, files, list(secrets.values()))
    _collect_results(record, files)
    logger.info(
        "%s: run %s %s in %.1f s",
        spec.path,
        record.run_id,
        record.state.value,
        record.duration or 0.0,
    )
    return record


def _stopped_early(
    spec: PipelineSpec, files: RunFiles
) -> PipelineExecutionError | None:
    """Fail a run whose notebook stopped without an error before its last cell.

    ``raise SystemExit(0)`` (or ``sys.exit()``) in a cell ends the execution
    quietly: papermill reports no error, but the cells after it never ran.
    """
    notebook = _read_notebook(files.notebook)
    for index, cell in enumerate(notebook.cells):
        ran = cell.get("execution_count") is not None
        if cell.cell_type == "code" and cell.source.strip() and not ran:
            return PipelineExecutionError(
                spec.path,
                "SystemExit",
                f"the notebook stopped quietly before cell {index} ran (a "
                "sys.exit() or SystemExit in an earlier cell?); the cells after "
                "it did not run",
                cell_index=index,
                output_notebook=files.notebook,
            )

    return None


def _not_started(spec: PipelineSpec, scheduled_time: datetime | None) -> RunRecord:
    record = RunRecord(spec.name, spec.path, RunState.SKIPPED)
    record.scheduled_time = scheduled_time
    record.note = "not started: the orchestrator was stopped"
    return record


def _described(
    error: PipelineExecutionError | None,
    state: RunState,
    timeout: float | None,
    watch: Watchdog,
) -> PipelineExecutionError | None:
    """Say in the error what happened to the kernel, when it was not the code."""
    if error is None or state is RunState.FAILED:
        return error

    if state is RunState.TIMED_OUT:
        reason = f"the notebook ran past its timeout of {timeout:g} s and was stopped"
    elif state is RunState.INTERRUPTED:
        reason = "the orchestrator was stopped while the notebook ran"
    else:
        return dead_kernel_error(error, watch)

    return PipelineExecutionError(
        error.path,
        state.value,
        reason,
        cell_index=error.cell_index,
        exec_count=error.exec_count,
        traceback=error.traceback,
        output_notebook=error.output_notebook,
    )


def _redact_run(record: RunRecord, files: RunFiles, values: list[str]) -> None:
    """Mask secret values in everything the run wrote and in its error."""
    if not values:
        return

    redact_notebook(files.notebook, values)
    redact_file(files.events, values)
    redact_file(files.kernel_log, values)
    error = record.error
    if error is not None:
        record.error = PipelineExecutionError(
            error.path,
            error.ename,
            redact_text(error.evalue, values),
            cell_index=error.cell_index,
            exec_count=error.exec_count,
            traceback=[redact_text(line, values) for line in error.traceback],
            output_notebook=error.output_notebook,
        )


def _run_papermill(
    spec: PipelineSpec,
    files: RunFiles,
    resources: dict[str, object],
    scheduled_time: datetime | None,
    handoff: Handoff | None = None,
    *,
    secrets: dict[str, str] | None = None,
    watch: Watchdog | None = None,
    kernels: KernelPool,
) -> PipelineExecutionError | None:
    offered = dict(resources)
    offered[RUN_ID_PARAMETER] = files.run_id
    if scheduled_time is not None:
        offered[SCHEDULED_TIME_PARAMETER] = scheduled_time.isoformat()

    try:
        parameters = injected_parameters(spec, offered)
        source = _ipynb_source(spec.path, files)
        if handoff is not None and handoff.needs_loader:
            target = files.notebook.with_name(f"{files.notebook.stem}.source.ipynb")
            source = with_loader_cell(source, target, handoff)

        given: dict[str, object] = dict(secrets or {})
        declared = {
            name: str(value) for name, value in injected_parameters(spec, given).items()
        }
        source = _with_secret_cell(source, files, sorted(declared))
        kernel_name, language = _kernel_of(source)
        key = KernelKey(kernel_name, spec.path.parent.resolve())
        env = files.kernel_env() | secret_env(declared)
        with kernels.kernel(key, env, files.kernel_log) as manager:
            if watch is not None and manager.process is not None:
                watch.attach(manager.process)

            papermill.execute_notebook(
                str(source.resolve()),
                str(files.notebook.resolve()),
                parameters=parameters,
                kernel_name=kernel_name,
                language=language,
                progress_bar=False,
                km=manager,
            )
    except PapermillExecutionError as error:
        return _from_papermill(spec, files, error, list((secrets or {}).values()))
    except Exception as error:  # a dead kernel or unreadable notebook is one run's
        logger.exception("%s: the run could not complete", spec.path)
        return PipelineExecutionError(
            spec.path,
            type(error).__name__,
            str(error),
            output_notebook=_kept_notebook(files),
        )

    return None


def _with_secret_cell(source: Path, files: RunFiles, names: list[str]) -> Path:
    """Return ``source`` with a cell that assigns each secret parameter from the env.

    The cell goes right after the parameters cell, so it follows papermill's
    injected parameters and no parameter can override a secret.
    """
    if not names:
        return source

    notebook = load_notebook(source)
    cell = nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
        secret_cell_source(names), metadata={"tags": [SECRET_TAG]}
    )
    notebook.cells.insert(_after_parameters_index(notebook), cell)
    target = files.notebook.with_name(f"{files.notebook.stem}.source.ipynb")
    nbformat.write(notebook, str(target))  # type: ignore[no-untyped-call]
    return target


def _after_parameters_index(notebook: Any) -> int:
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return index + 1

    return 0


def _ipynb_source(path: Path, files: RunFiles) -> Path:
    """Return the notebook papermill reads: a text pipeline is converted first.

    The converted copy sits beside the run's other files and is removed once
    the run's files are collected; the kernel still starts in the pipeline's
    own folder, so its relative paths behave as they do for an ``.ipynb``.
    """
    if path.suffix == NOTEBOOK_SUFFIX:
        return path

    converted = files.notebook.with_name(f"{files.notebook.stem}.source.ipynb")
    nbformat.write(load_notebook(path), str(converted))  # type: ignore[no-untyped-call]
    return converted


def _from_papermill(
    spec: PipelineSpec,
    files: RunFiles,
    error: PapermillExecutionError,
    secrets: list[str],
) -> PipelineExecutionError:
    evalue = redact_text(str(error.evalue), secrets)
    logger.error(
        "%s: %s: %s in cell %s", spec.path, error.ename, evalue, error.cell_index
    )
    return PipelineExecutionError(
        spec.path,
        str(error.ename),
        str(error.evalue),
        cell_index=error.cell_index,
        exec_count=error.exec_count,
        traceback=[_ANSI.sub("", line) for line in error.traceback or []],
        output_notebook=_kept_notebook(files),
    )


def _read_notebook(path: Path) -> Any:
    return nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]


def _kernel_of(path: Path) -> tuple[str, str]:
    """Return the notebook's kernel and language; a bare notebook gets Python's."""
    metadata = _read_notebook(path).metadata
    kernelspec = metadata.get("kernelspec") or {}
    language_info = metadata.get("language_info") or {}
    kernel_name = kernelspec.get("name") or DEFAULT_KERNEL
    language = kernelspec.get("language") or language_info.get("name") or "python"
    return str(kernel_name), str(language)


def _kept_notebook(files: RunFiles) -> Path | None:
    """Return the executed notebook, or None if papermill never wrote it."""
    if files.notebook.exists() and files.notebook.stat().st_size > 0:
        return files.notebook

    files.notebook.unlink(missing_ok=True)
    return None


def _collect_results(record: RunRecord, files: RunFiles) -> None:
    if record.error is not None:
        record.output_notebook = record.error.output_notebook

    record.warnings, record.messages = read_events(files.events)
    files.notebook.with_name(f"{files.notebook.stem}.source.ipynb").unlink(
        missing_ok=True
    )
    record.artifact_file = artifact_file(files.artifact)
