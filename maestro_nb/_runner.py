"""Running what is due: the schedule's decision, then one kernel per pipeline.

Due pipelines start in run order, ``workers`` at a time. Each run is one
papermill execution in a fresh kernel of its own (see ``_execution``), driven
from a worker thread: the threads only wait on their kernels, so the kernels
really run side by side. A pipeline that fails is recorded and never stops
the others.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pandas as pd

from ._clock import resolve_check_datetime
from ._exceptions import PipelineExecutionError
from ._execution import execute_pipeline
from ._frequency import Frequency
from ._localtime import UTC
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

PACKAGE_LOGGER = "maestro_nb"
LOG_FILE_NAME = "maestro.log"
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def run_schedule(
    schedule: Schedule,
    orch_frequency: str | Frequency = "1 day",
    check_datetime: object = None,
    resources: dict[str, object] | None = None,
    run_all: bool = False,
    n_show_next: int = 5,
    workers: int = 1,
    log_to_console: bool = False,
    log_to_file: bool = False,
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
        log_to_console: echo maestro_nb's log records to stderr during the run.
        log_to_file: append maestro_nb's log records to
            ``<output_dir>/maestro.log``.
        log_file_max_bytes: size at which the log file is rotated.
        quiet: print nothing.
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
    with _log_routing(log_to_console, log_to_file, runs_dir, log_file_max_bytes):
        _run_pending(decisions, records, runs_dir, resources or {}, workers, quiet)

    report = RunReport(records, check, str(orch_frequency))
    schedule.last_run = report
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
    quiet: bool,
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
                execute_pipeline,
                spec,
                runs_dir,
                resources=resources,
                scheduled_time=scheduled,
            )
            futures[future] = index

        for future in as_completed(futures):
            index = futures[future]
            records[index] = _finished_record(future, records[index])
            if not quiet:
                print(_run_line(records[index]), flush=True)


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
    for text in record.warnings:
        logger.debug("%s: warning: %s", record.notebook, text)

    for text in record.messages:
        logger.debug("%s: message: %s", record.notebook, text)

    return record


def _run_line(record: RunRecord) -> str:
    duration = record.duration if record.duration is not None else 0.0
    line = f"  {record.state.value:<9} {record.pipe_name}  {duration:.1f} s"
    if record.error is not None:
        where = (
            f" in cell {record.error.cell_index}"
            if record.error.cell_index is not None
            else ""
        )
        line += f"  ({record.error.ename}: {record.error.evalue}{where})"

    return line


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


@contextmanager
def _log_routing(
    to_console: bool, to_file: bool, runs_dir: Path, max_bytes: int
) -> Iterator[None]:
    """Attach the handlers the caller asked for to the package logger, for one run.

    The library configures no logging on its own; these handlers exist only
    because the caller passed ``log_to_console`` or ``log_to_file``, and they
    are removed when the run ends.
    """
    package_logger = logging.getLogger(PACKAGE_LOGGER)
    handlers: list[logging.Handler] = []
    if to_console:
        handlers.append(logging.StreamHandler())

    if to_file:
        runs_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                runs_dir / LOG_FILE_NAME, maxBytes=max_bytes, backupCount=1
            )
        )

    level = package_logger.level
    for handler in handlers:
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        package_logger.addHandler(handler)

    if handlers and package_logger.getEffectiveLevel() > logging.INFO:
        package_logger.setLevel(logging.INFO)

    try:
        yield
    finally:
        for handler in handlers:
            package_logger.removeHandler(handler)
            handler.close()

        package_logger.setLevel(level)


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
