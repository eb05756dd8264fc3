"""Running what is due: the schedule's decision, then one kernel per pipeline.

Due pipelines start in run order, ``workers`` at a time. Each run is one
papermill execution in a fresh kernel of its own (see ``_execution``), driven
from a worker thread: the threads only wait on their kernels, so the kernels
really run side by side. A pipeline that fails is recorded and never stops
the others. Pipelines downstream of a run start as soon as it completes (see
``_dispatch``); :func:`invoke` runs one pipeline now with its downstream DAG.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

import pandas as pd

from ._catchup import MissedRun, parse_window
from ._clock import resolve_check_datetime
from ._dag import Edges
from ._dask import ExecutorChoice, remote_runner
from ._dispatch import Dispatcher, Job, Runner, run_tree
from ._faults import stop_on_signals, with_run_defaults
from ._frequency import Frequency, parse_orch_frequency
from ._localtime import UTC
from ._logs import log_routing, log_run, write_status_file
from ._progress import Progress, progress_mode, warn_if_too_coarse
from ._recording import HistoryOption, Recorder
from ._schedule import Schedule
from ._secrets import Secret
from ._status import RunRecord, RunReport, RunState
from ._tags import PipelineSpec
from ._timing import Decision

__all__ = [
    "get_artifacts",
    "get_status",
    "invoke",
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
    *,
    timeout: str | float | None = None,
    retries: int = 0,
    retry_delay: str | float = 0,
    history: HistoryOption = True,
    catch_up: str | None = None,
    secrets: dict[str, str | Secret] | None = None,
    executor: ExecutorChoice = None,
    dask_address: str | None = None,
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
        timeout: how long a whole notebook may run (``"10 minutes"`` or
            seconds) where its ``timeout`` tag sets none; past it the kernel
            is interrupted, then killed, and the run is ``timed_out``.
        retries: how many times a failed run (or one whose kernel died) is
            tried again where its ``retries`` tag sets none.
        retry_delay: the wait before each retry (``"5 seconds"`` or seconds).
        history: the run history: True for ``<output_dir>/maestro_history.sqlite``,
            a file, folder or SQLAlchemy URL, or False to keep none (each
            slot is then claimed by nobody and nothing is caught up).
        catch_up: a window such as ``"1 day"``: first run, oldest first,
            each slot of that window that a pipeline was due in and that no
            orchestrator ran (needs a history).
        secrets: values handed to the pipelines that declare a parameter of
            that name, as ``resources`` are, but through the kernel's
            environment; they are masked in everything the run writes.
        executor: where the notebooks run: ``None`` or ``"local"`` (kernels
            on this machine), ``"dask"`` (the Dask cluster at
            ``dask_address``), a ``distributed.Client`` or any
            ``concurrent.futures.Executor``. ``workers`` still bounds how
            many runs are out at once; ``output_dir`` must then be on a
            filesystem every worker shares, at the same path.
        dask_address: the Dask scheduler (``"tcp://host:8786"``); giving it
            alone means ``executor="dask"``.

    Returns:
        ``schedule``, its ``last_run`` set to this run's report.

    Raises:
        ValueError: ``workers`` is below 1, or a timeout, retry count or
            catch-up window is not valid, or an unknown executor name.
        TypeError: ``executor`` is of another kind.
    """
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, not {workers!r}")

    check = resolve_check_datetime(check_datetime)
    decisions = schedule.decide(orch_frequency, check)
    pipelines = with_run_defaults(schedule.pipelines, timeout, retries, retry_delay)
    window = parse_window(catch_up) if catch_up else None
    downstream = schedule.downstream_names
    records = [
        _planned_record(spec, d, run_all, spec.name in downstream)
        for spec, d in decisions
    ]
    runs_dir = Path(output_dir)
    offered = _with_secrets(resources, secrets)
    with stop_on_signals(), Recorder.open(history, runs_dir) as recorder:
        roots = _claimed_roots(recorder, pipelines, decisions, records, run_all)
        if window is not None:
            frequency = parse_orch_frequency(orch_frequency)
            missed = recorder.missed(
                list(pipelines.values()), frequency, check, window, downstream
            )
            roots = _catch_up_roots(recorder, pipelines, missed) + roots

        with log_routing(log_to_console, log_to_file, runs_dir, log_file_max_bytes):
            warn_if_too_coarse(schedule, orch_frequency, quiet)
            report, tree = _dispatch(
                schedule,
                records,
                roots,
                runs_dir,
                offered,
                workers,
                quiet,
                recorder,
                pipelines,
                executor=executor,
                dask_address=dask_address,
            )

        report.check_datetime, report.orch_frequency = check, str(orch_frequency)
        summary = _summary(report, n_show_next, tree)
        _finish(schedule, report, runs_dir, summary, quiet)

    return schedule


def invoke(
    schedule: Schedule,
    pipe_name: str,
    resources: dict[str, object] | None = None,
    workers: int = 1,
    log_to_console: bool = False,
    log_to_file: bool | str | os.PathLike[str] = False,
    log_file_max_bytes: int = 1_000_000,
    quiet: bool = False,
    output_dir: str | os.PathLike[str] = "runs",
    *,
    history: HistoryOption = True,
    secrets: dict[str, str | Secret] | None = None,
) -> Schedule:
    """Run one pipeline now, whatever its schedule, ``skip`` or ``runIf``, then its DAG.

    Its downstream pipelines follow as in :func:`run_schedule` (their own
    ``runIf`` and ``map`` apply). An invoked downstream pipeline receives
    ``maestro_input = None``, its notebook's default. The status and
    artifacts of the run replace the schedule's last run, covering the
    invoked pipeline and its descendants.

    Args:
        schedule: the schedule from :func:`build_schedule`.
        pipe_name: the pipeline to run.
        resources: values injected as parameters, as in :func:`run_schedule`.
        workers: how many pipelines run at once.
        log_to_console: as in :func:`run_schedule`.
        log_to_file: as in :func:`run_schedule`.
        log_file_max_bytes: as in :func:`run_schedule`.
        quiet: print nothing.
        output_dir: where executed notebooks and run files go.
        history: as in :func:`run_schedule` (an invoked run claims no slot).
        secrets: as in :func:`run_schedule`.

    Returns:
        ``schedule``, its ``last_run`` set to this run's report.

    Raises:
        PipelineNotFoundError: no pipeline of that name built.
        ValueError: ``workers`` is below 1.
    """
    # TODO: invoke() takes no executor= or timeout defaults yet, so an
    # invoked pipeline always runs on this machine with only its own tags'
    # timeout and retries; run_schedule(run_all=True) has both.
    spec = schedule.pipeline(pipe_name)
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, not {workers!r}")

    now = datetime.now(UTC)
    names = [
        pipe_name,
        *sorted(Edges(schedule.pipelines.values()).descendants(pipe_name)),
    ]
    records = [
        RunRecord(name, schedule.pipelines[name].path, RunState.NOT_DUE)
        for name in names
    ]
    runs_dir = Path(output_dir)
    root = Job(spec, now, check_run_if=False)
    offered = _with_secrets(resources, secrets)
    with stop_on_signals(), Recorder.open(history, runs_dir) as recorder:
        with log_routing(log_to_console, log_to_file, runs_dir, log_file_max_bytes):
            report, tree = _dispatch(
                schedule, records, [root], runs_dir, offered, workers, quiet, recorder
            )

        report.check_datetime, report.orch_frequency = now, "invoke"
        _finish(schedule, report, runs_dir, _summary(report, 0, tree), quiet)

    return schedule


def _with_secrets(
    resources: dict[str, object] | None, secrets: dict[str, str | Secret] | None
) -> dict[str, object]:
    """Merge the secrets into the resources, each wrapped as a :class:`Secret`."""
    offered = dict(resources or {})
    for name, value in (secrets or {}).items():
        offered[name] = value if isinstance(value, Secret) else Secret(value)

    return offered


def _claimed_roots(
    recorder: Recorder,
    pipelines: dict[str, PipelineSpec],
    decisions: list[tuple[PipelineSpec, Decision]],
    records: list[RunRecord],
    run_all: bool = False,
) -> list[Job]:
    """Claim the slot of each due pipeline; a slot claimed elsewhere is not run.

    ``run_all`` is a manual run outside the schedule: it claims nothing, so
    it never takes the slot from the scheduled run that follows it.
    """
    roots = []
    for (spec, decision), record in zip(decisions, records, strict=True):
        if record.state is not RunState.PENDING:
            continue

        if run_all:
            roots.append(Job(pipelines[spec.name], record.scheduled_time))
        elif recorder.claim(spec.name, decision.slot, record.scheduled_time):
            roots.append(Job(pipelines[spec.name], record.scheduled_time))
        else:
            record.state = RunState.ALREADY_CLAIMED
            record.note = "another orchestrator claimed this slot"
            logger.info("%s: %s", spec.path, record.note)

    return roots


def _catch_up_roots(
    recorder: Recorder, pipelines: dict[str, PipelineSpec], missed: list[MissedRun]
) -> list[Job]:
    """Claim and return a run for each missed slot, oldest first."""
    roots = []
    for run in missed:
        if recorder.claim(run.spec.name, run.slot, run.scheduled_time):
            logger.info("%s: catching up slot %s", run.spec.path, run.slot)
            roots.append(Job(pipelines[run.spec.name], run.scheduled_time))

    return roots


def _finish(
    schedule: Schedule, report: RunReport, runs_dir: Path, summary: str, quiet: bool
) -> None:
    schedule.last_run = report
    claimed_elsewhere = any(r.state is RunState.ALREADY_CLAIMED for r in report.records)
    if report.invoked or not claimed_elsewhere:
        # An orchestrator that lost every race ran nothing of its own: the
        # status of the one that ran the slot stays the last status.
        write_status_file(report, runs_dir)

    if not quiet:
        print(summary)


def _planned_record(
    spec: PipelineSpec, decision: Decision, run_all: bool, is_downstream: bool
) -> RunRecord:
    record = RunRecord(
        spec.name,
        spec.path,
        scheduled_time=decision.scheduled_time,
        next_run=decision.next_run,
    )
    if is_downstream:
        # Replaced by its runs if an upstream of it runs.
        record.state = RunState.NOT_DUE
        record.note = "runs when its upstream runs"
    elif spec.skip:
        record.state = RunState.SKIPPED
    elif decision.is_due or run_all:
        record.state = RunState.PENDING
        record.scheduled_time = decision.scheduled_time or decision.slot
    else:
        record.state = RunState.NOT_DUE

    return record


def _dispatch(
    schedule: Schedule,
    planned: list[RunRecord],
    roots: list[Job],
    runs_dir: Path,
    resources: dict[str, object],
    workers: int,
    quiet: bool,
    recorder: Recorder | None = None,
    pipelines: dict[str, PipelineSpec] | None = None,
    *,
    executor: ExecutorChoice = None,
    dask_address: str | None = None,
) -> tuple[RunReport, list[str]]:
    """Run the root jobs and their DAG; return the report and the console tree."""
    remote_runs = remote_runner(executor, dask_address)
    with Progress(len(roots), progress_mode(quiet)) as progress, remote_runs as remote:

        def on_record(record: RunRecord) -> None:
            if recorder is not None:
                recorder.record(record)

            if record.retried:
                progress.total += 1

            if record.is_invoked:
                log_level = schedule.pipelines[record.pipe_name].log_level
                log_run(record, log_level, runs_dir)
                progress.finished(record)
            else:
                logger.info("%s: not run: %s", record.notebook, record.note)

        def track(job: Job, work: Runner) -> Runner:
            if job.parents:
                progress.total += 1

            return progress.track(job.spec.name, work)

        dispatcher = Dispatcher(
            pipelines or schedule.pipelines,
            runs_dir,
            resources,
            on_record,
            track,
            remote=remote,
        )
        made = dispatcher.run(roots, workers)

    records = _merged(schedule, planned, made)
    tree = run_tree(records, dispatcher.links)
    return RunReport(records, datetime.now(UTC), ""), tree


def _merged(
    schedule: Schedule, planned: list[RunRecord], made: list[RunRecord]
) -> list[RunRecord]:
    """Replace each planned record by its pipeline's runs, in DAG tree order."""
    runs: dict[str, list[RunRecord]] = {}
    for record in made:
        runs.setdefault(record.pipe_name, []).append(record)

    by_name: dict[str, list[RunRecord]] = {}
    for record in planned:
        found = runs.get(record.pipe_name, [record])
        for run in found:
            run.next_run = record.next_run

        by_name[record.pipe_name] = found

    edges = Edges(schedule.pipelines[name] for name in by_name)
    order = edges.tree_order(by_name)
    return [record for name in order if name in by_name for record in by_name[name]]


def _summary(report: RunReport, n_show_next: int, tree: list[str]) -> str:
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
            lines.append(f"  failed: {record.label}: see {kept}")

    if tree:
        lines.append("DAG runs:")
        lines.extend(tree)

    upcoming = report.next_runs(n_show_next)
    if n_show_next > 0 and not upcoming.empty:
        lines.append(f"next {len(upcoming)} scheduled runs:")
        for row in upcoming.itertuples(index=False):
            lines.append(f"  {row.next_run:%Y-%m-%d %H:%M} UTC  {row.pipe_name}")

    return "\n".join(lines)


def get_status(schedule: Schedule) -> pd.DataFrame:
    """Return the status of the last run (one row per run, see ``Schedule``)."""
    return schedule.get_status()


def get_artifacts(schedule: Schedule, by_run: bool = False) -> dict[str, object]:
    """Return the values the last run's pipelines handed back with ``output()``.

    See :meth:`RunReport.artifacts`: by pipeline name (a list for a pipeline
    that ran more than once), or by run id with ``by_run=True``.
    """
    return schedule.get_artifacts(by_run)


def last_run_errors(schedule: Schedule) -> dict[str, str]:
    """Return the error of each pipeline that failed in the last run."""
    return schedule.last_run_errors()


def last_run_warnings(schedule: Schedule) -> dict[str, list[str]]:
    """Return the warnings of each pipeline that emitted any in the last run."""
    return schedule.last_run_warnings()


def last_run_messages(schedule: Schedule) -> dict[str, list[str]]:
    """Return the messages of each pipeline that emitted any in the last run."""
    return schedule.last_run_messages()
