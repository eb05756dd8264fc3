"""Run states, one record per pipeline and run, and the report of a whole run.

The state names agree with papermill's (``pending``, ``running``,
``completed``, ``failed``); ``kernel_died``, ``timed_out`` and
``interrupted`` are failures of a run for a reason outside the notebook's
code; ``skipped``, ``not_due``, ``upstream_failed`` and ``already_claimed``
say why a pipeline was not invoked at all. A run that failed and was tried
again keeps its record (``retried`` set, ``attempt`` counting from 1).

A pipeline of a DAG may run more than once in one orchestrator run (once per
``map`` iteration, once per lineage that reaches it), and every run has a
record and a status row of its own. Every instant is an aware UTC datetime
and every duration is in seconds.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import pandas as pd

from ._exceptions import PipelineExecutionError
from ._results import read_value

__all__ = [
    "FAILURE_STATES",
    "STATUS_COLUMNS",
    "RunRecord",
    "RunReport",
    "RunState",
    "empty_status",
]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

STATUS_COLUMNS = [
    "pipe_name",
    "notebook",
    "status",
    "invoked",
    "success",
    "started",
    "ended",
    "duration",
    "errors",
    "warnings",
    "messages",
    "run_id",
    "input_run_id",
    "lineage",
    "iteration",
    "attempt",
    "note",
    "output_notebook",
    "scheduled_time",
    "next_run",
]
NEXT_RUN_COLUMNS = ["pipe_name", "next_run"]
_TIME_COLUMNS = ("started", "ended", "scheduled_time", "next_run")


class RunState(str, enum.Enum):
    """Where a pipeline stands in a run (papermill's words, plus ours)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    KERNEL_DIED = "kernel_died"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"
    NOT_DUE = "not_due"
    UPSTREAM_FAILED = "upstream_failed"
    ALREADY_CLAIMED = "already_claimed"

    def __str__(self) -> str:
        return self.value

    @property
    def is_failure(self) -> bool:
        """Whether a run in this state was started and did not complete."""
        return self.value in FAILURE_STATES


# The state names of a run that was started and did not complete.
FAILURE_STATES = frozenset({"failed", "kernel_died", "timed_out", "interrupted"})


@dataclass
class RunRecord:
    """What happened to one pipeline in one orchestrator run.

    Attributes:
        pipe_name: the pipeline's name.
        notebook: the pipeline notebook.
        state: where the run stands.
        run_id: the run's identifier, also given to the notebook.
        scheduled_time: the cycle point that made it due (or the check slot
            when everything was run).
        next_run: its next scheduled run after this check.
        started: when its kernel was asked to start.
        ended: when the executed notebook was complete.
        output_notebook: the executed copy of the notebook.
        artifact_file: the file ``output()`` wrote, read on demand (see
            ``artifact``), so finished runs hold no large values in memory.
        error: why it failed, if it did.
        warnings: the warnings it emitted (Python warnings, log records at
            WARNING and above).
        messages: its log records below WARNING.
        input_run_ids: the upstream runs that fed this one (several for a
            ``collect`` fan-in); empty for a root run.
        lineage: the chain of pipelines that led here, ``"extract->load"``.
        iteration: the run's index among the runs of one ``map`` fan-out.
        note: why it did not run, when that is not obvious from its state.
        attempt: which try of the run this is, from 1 (see ``retries``).
        retried: this attempt failed and a later attempt replaced it.
        earlier_attempts: the retried attempts before this one, oldest first.
    """

    pipe_name: str
    notebook: Path
    state: RunState = RunState.PENDING
    run_id: str | None = None
    scheduled_time: datetime | None = None
    next_run: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    output_notebook: Path | None = None
    artifact_file: Path | None = None
    error: PipelineExecutionError | None = None
    warnings: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    input_run_ids: tuple[str, ...] = ()
    lineage: str | None = None
    iteration: int | None = None
    note: str | None = None
    attempt: int = 1
    retried: bool = False
    earlier_attempts: list[RunRecord] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The pipeline's name, with ``[i]`` for an iteration of a ``map``."""
        if self.iteration is None:
            return self.pipe_name

        return f"{self.pipe_name}[{self.iteration}]"

    @property
    def has_artifact(self) -> bool:
        """Whether the run handed back a value (which may be ``None``)."""
        return self.artifact_file is not None

    @property
    def artifact(self) -> object:
        """The value the notebook handed back with ``output()``, read from its file.

        Raises:
            OSError: the file is gone.
            Exception: whatever unpickling raises for a value that cannot be
                rebuilt outside its kernel (a class defined in the notebook).
        """
        return read_value(self.artifact_file)

    @property
    def is_invoked(self) -> bool:
        """Whether the pipeline was started in this run."""
        return self.state is RunState.RUNNING or self.is_success is not None

    @property
    def is_success(self) -> bool | None:
        """True if it completed, False if it failed, None if it did not run."""
        if self.state is RunState.COMPLETED:
            return True

        if self.state.is_failure:
            return False

        return None

    @property
    def duration(self) -> float | None:
        """The run's length in seconds, once it has ended."""
        if self.started is None or self.ended is None:
            return None

        return (self.ended - self.started).total_seconds()

    def status_row(self) -> dict[str, object]:
        """Return this record as one row of the status table."""
        return {
            "pipe_name": self.pipe_name,
            "notebook": str(self.notebook),
            "status": self.state.value,
            "invoked": self.is_invoked,
            "success": self.is_success,
            "started": self.started,
            "ended": self.ended,
            "duration": self.duration,
            "errors": 1 if self.error is not None else 0,
            "warnings": len(self.warnings),
            "messages": len(self.messages),
            "run_id": self.run_id,
            "input_run_id": ",".join(self.input_run_ids) or None,
            "lineage": self.lineage or self.pipe_name,
            "iteration": self.iteration,
            "attempt": self.attempt,
            "note": self.note,
            "output_notebook": (
                str(self.output_notebook) if self.output_notebook else None
            ),
            "scheduled_time": self.scheduled_time,
            "next_run": self.next_run,
        }


@dataclass
class RunReport:
    """Everything one :func:`run_schedule` call did, pipeline by pipeline.

    Attributes:
        records: one record per pipeline of the schedule, in run order.
        check_datetime: the instant the schedule was checked at (UTC).
        orch_frequency: the orchestrator's frequency, as given.
    """

    records: list[RunRecord]
    check_datetime: datetime
    orch_frequency: str

    @property
    def invoked(self) -> list[RunRecord]:
        """The records of the pipelines that were started."""
        return [record for record in self.records if record.is_invoked]

    @property
    def failed(self) -> list[str]:
        """The pipelines that failed (``name[i]`` for a ``map`` iteration).

        A failure of any kind counts (a dead kernel, a timeout), except an
        attempt that was retried: its last attempt decides.
        """
        return [r.label for r in self.records if r.state.is_failure and not r.retried]

    @property
    def succeeded(self) -> list[str]:
        """The pipelines that completed (``name[i]`` for a ``map`` iteration)."""
        return [r.label for r in self.records if r.state is RunState.COMPLETED]

    def status(self) -> pd.DataFrame:
        """Return one row per pipeline, in run order (see ``STATUS_COLUMNS``)."""
        return _status_frame([record.status_row() for record in self.records])

    def next_runs(self, n: int | None = None) -> pd.DataFrame:
        """Return the next scheduled run of each pipeline, soonest first."""
        rows = [
            (record.pipe_name, record.next_run)
            for record in self.records
            if record.next_run is not None
        ]
        frame: pd.DataFrame = pd.DataFrame(rows, columns=NEXT_RUN_COLUMNS)
        frame["next_run"] = pd.to_datetime(frame["next_run"], utc=True)
        frame = frame.sort_values("next_run", kind="stable").reset_index(drop=True)
        return frame if n is None else frame.head(n)

    def artifacts(self, by_run: bool = False) -> dict[str, object]:
        """Return the values handed back with ``output()``, read from their files.

        Args:
            by_run: key by run id instead of by pipeline name. By name, a
                pipeline that ran more than once in the run (``map``
                iterations, two lineages) maps to the list of its values in
                run order; one that ran once maps to its value.
        """
        values: dict[str, list[object]] = {}
        for record in self.records:
            if record.has_artifact:
                key = record.run_id if by_run else record.pipe_name
                values.setdefault(str(key), []).extend(_readable(record))

        if by_run:
            return {key: found[0] for key, found in values.items() if found}

        runs = {r.pipe_name: self.runs_of(r.pipe_name) for r in self.records}
        return {
            name: found if runs[name] > 1 else found[0]
            for name, found in values.items()
            if found
        }

    def runs_of(self, pipe_name: str) -> int:
        """Count the runs of one pipeline that were started."""
        return sum(r.pipe_name == pipe_name for r in self.invoked)

    def errors(self) -> dict[str, str]:
        """Return the error of each failed run, as one line of text."""
        return _by_label([(r, str(r.error)) for r in self.records if r.error])

    def warnings(self) -> dict[str, list[str]]:
        """Return the warnings of each run that emitted any."""
        return _by_label([(r, list(r.warnings)) for r in self.records if r.warnings])

    def messages(self) -> dict[str, list[str]]:
        """Return the messages of each run that emitted any."""
        return _by_label([(r, list(r.messages)) for r in self.records if r.messages])


def _readable(record: RunRecord) -> list[object]:
    """Return ``[value]``, or ``[]`` (logged) when the artifact cannot be read."""
    try:
        return [record.artifact]
    except Exception as error:  # one unreadable artifact must not hide the rest
        logger.warning(
            "%s: the artifact of run %s cannot be read: %s: %s",
            record.notebook,
            record.run_id,
            type(error).__name__,
            error,
        )
        return []


def _by_label(items: list[tuple[RunRecord, _T]]) -> dict[str, _T]:
    """Key by pipeline label; a second run of one label adds its run id."""
    keyed: dict[str, _T] = {}
    for record, value in items:
        key = record.label
        if key in keyed:
            key = f"{key} ({record.run_id})"

        keyed[key] = value

    return keyed


def empty_status() -> pd.DataFrame:
    """Return the status table of a schedule that has not run yet."""
    return _status_frame([])


def _status_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame: pd.DataFrame = pd.DataFrame(rows, columns=STATUS_COLUMNS)
    for column in _TIME_COLUMNS:
        frame[column] = pd.to_datetime(frame[column], utc=True)

    frame["duration"] = frame["duration"].astype("float64")
    frame["success"] = frame["success"].astype("boolean")
    frame["iteration"] = frame["iteration"].astype("Int64")
    frame["attempt"] = frame["attempt"].astype("Int64")
    return frame
