"""Running what is due: the schedule's decision, then one kernel per pipeline.

Due pipelines start in run order, ``workers`` at a time. Each run is one
papermill execution in a fresh kernel of its own (see ``_execution``), driven
from a worker thread: the threads only wait on their kernels, so the kernels
really run side by side. A pipeline that fails is recorded and never stops
the others.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path

import pandas as pd

from ._clock import resolve_check_datetime
from ._exceptions import PipelineExecutionError
from ._execution import execute_pipeline
from ._frequency import Frequency
from ._localtime import UTC
from ._logs import log_routing, log_run, write_status_file
from ._progress import Progress, progress_mode, warn_if_too_coarse
from ._schedule import Schedule
from ._status import RunRecord, RunReport, RunState
from ._tags import PipelineSpec
from ._timing import Decision

__all__ = [
    "get_artifacts",
    "get_status",
    "last_run_errors",
    "last_run_messages",
    "last_run_warnings",
    "run_schedule",
]

logger = logging.getLogger(__name__)


def run_schedule(
    schedule: Schedule,
    orch_frequency: str | Frequency = "1 day",
    check_datetime: object = None,
    resources: dict[str, object] | None = None,
    run_all: bool = False,
    n_show_next: int = 5,
    workers: int = 1,
    log_to_console: bool = False,
    log_to_file: bool | str | os.PathLike[str] = False,
    log_file_max_bytes: int = 1_000_000,
    quiet: bool = False,
    output_dir: str | os.PathLike[str] = "runs",
) -> Schedule:
    """Run every pipeline that is due at the check instant, and record how it went.

    Args:
        schedule: the schedule from :func:`build_schedule`.
        orch_frequency: how often the orchestrator itself runs (``"1 day"``).
        check_datetime: the instant to check; default now (UTC when naive).
        resources: values injected as parameters into every pipeline whose
            parameters cell declares a variable of that name.
        run_all: run every pipeline not tagged ``skip``, due or not.
        n_show_next: how many upcoming runs the summary lists.
        workers: how many pipelines run at once, each in its own kernel.
        log_to_console: write the run's log lines to stderr: what each
            pipeline emitted, at or above its ``logLevel`` tag, and the
            library's own INFO lines.
        log_to_file: append the same lines to ``<output_dir>/maestro.log``
            (``True``) or to the file at this path.
        log_file_max_bytes: size at which the log file is rotated; the last
            five rotated files are kept.
        quiet: print nothing (no progress, no summary).
        output_dir: where executed notebooks and run files go.

    Returns:
        ``schedule``, its ``last_run`` set to this run's report.

    Raises:
        ValueError: ``workers`` is below 1.
    """
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, not {workers!r}")

    check = resolve_check_datetime(check_datetime)
    decisions = schedule.decide(orch_frequency, check)
    records = [_planned_record(spec, d, run_all) for spec, d in decisions]
    runs_dir = Path(output_dir)
    pending = sum(record.state is RunState.PENDING for record in records)
    with log_routing(log_to_console, log_to_file, runs_dir, log_file_max_bytes):
        warn_if_too_coarse(schedule, orch_frequency, quiet)
        with Progress(pending, progress_mode(quiet)) as progress:
            _run_pending(
                decisions, records, runs_dir, resources or {}, workers, progress
            )

    report = RunReport(records, check, str(orch_frequency))
    schedule.last_run = report
    write_status_file(report, runs_dir)
    if not quiet:
        print(_summary(report, n_show_next))

    return schedule


def _planned_record(spec: PipelineSpec, decision: Decision, run_all: bool) -> RunRecord:
    record = RunRecord(
        spec.name,
        spec.path,
        scheduled_time=decision.scheduled_time,
        next_run=decision.next_run,
    )
    if spec.skip:
        record.state = RunState.SKIPPED
    elif decision.is_due or run_all:
        record.state = RunState.PENDING
        record.scheduled_time = decision.scheduled_time or decision.slot
    else:
        record.state = RunState.NOT_DUE

    return record


def _run_pending(
    decisions: list[tuple[PipelineSpec, Decision]],
    records: list[RunRecord],
    runs_dir: Path,
    resources: dict[str, object],
    workers: int,
    progress: Progress,
) -> None:
    """Run the pending records' pipelines and put their results in place."""
    pending = [i for i, r in enumerate(records) if r.state is RunState.PENDING]
    if not pending:
        return

    with ThreadPoolExecutor(workers, thread_name_prefix="maestro_nb") as pool:
        futures: dict[Future[RunRecord], int] = {}
        for index in pending:
            spec = decisions[index][0]
            scheduled = records[index].scheduled_time
            future = pool.submit(
                progress.track(spec.name, execute_pipeline),
                spec,
                runs_dir,
                resources=resources,
                scheduled_time=scheduled,
            )
            futures[future] = index

        for future in as_completed(futures):
            index = futures[future]
            records[index] = _finished_record(future, records[index])
            log_run(records[index], decisions[index][0].log_level, runs_dir)
            progress.finished(records[index])


def _finished_record(future: Future[RunRecord], planned: RunRecord) -> RunRecord:
    """Return the run's record; a run that could not even start becomes a failure."""
    try:
        record = future.result()
    except Exception as error:
        logger.exception("%s: the run could not start", planned.notebook)
        planned.state = RunState.FAILED
        planned.ended = datetime.now(UTC)
        planned.error = PipelineExecutionError(
            planned.notebook, type(error).__name__, str(error)
        )
        return planned

    record.next_run = planned.next_run
    return record


def _summary(report: RunReport, n_show_next: int) -> str:
    invoked = len(report.invoked)
    lines = [
        f"maestro_nb: {invoked} of {len(report.records)} pipelines run at "
        f"{report.check_datetime:%Y-%m-%d %H:%M:%S} UTC "
        f"(orch_frequency {report.orch_frequency!r}): "
        f"{len(report.succeeded)} succeeded, {len(report.failed)} failed"
    ]
    for record in report.records:
        if record.error is not None:
            kept = record.error.output_notebook or "no executed notebook"
            lines.append(f"  failed: {record.pipe_name}: see {kept}")

    upcoming = report.next_runs(n_show_next)
    if n_show_next > 0 and not upcoming.empty:
        lines.append(f"next {len(upcoming)} scheduled runs:")
        for row in upcoming.itertuples(index=False):
            lines.append(f"  {row.next_run:%Y-%m-%d %H:%M} UTC  {row.pipe_name}")

    return "\n".join(lines)


def get_status(schedule: Schedule) -> pd.DataFrame:
    """Return the status of every pipeline in the last run (one row each)."""
    return schedule.get_status()


def get_artifacts(schedule: Schedule) -> dict[str, object]:
    """Return the value each pipeline of the last run handed back with ``output()``."""
    return schedule.get_artifacts()


def last_run_errors(schedule: Schedule) -> dict[str, str]:
    """Return the error of each pipeline that failed in the last run."""
    return schedule.last_run_errors()


def last_run_warnings(schedule: Schedule) -> dict[str, list[str]]:
    """Return the warnings of each pipeline that emitted any in the last run."""
    return schedule.last_run_warnings()


def last_run_messages(schedule: Schedule) -> dict[str, list[str]]:
    """Return the messages of each pipeline that emitted any in the last run."""
    return schedule.last_run_messages()
