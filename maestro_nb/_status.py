"""Run states, one record per pipeline and run, and the report of a whole run.

The state names agree with papermill's (``pending``, ``running``,
``completed``, ``failed``); ``skipped`` and ``not_due`` say why a pipeline
was not invoked at all. Every instant is an aware UTC datetime and every
duration is in seconds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from ._exceptions import PipelineExecutionError

__all__ = ["STATUS_COLUMNS", "RunRecord", "RunReport", "RunState", "empty_status"]

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
    "output_notebook",
    "scheduled_time",
    "next_run",
]
NEXT_RUN_COLUMNS = ["pipe_name", "next_run"]
_TIME_COLUMNS = ("started", "ended", "scheduled_time", "next_run")


class RunState(str, enum.Enum):
    """Where a pipeline stands in a run (papermill's words, plus two of ours)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_DUE = "not_due"

    def __str__(self) -> str:
        return self.value


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
        artifact: the value the notebook handed back with ``output()``.
        has_artifact: whether ``artifact`` holds a value (it may be ``None``).
        error: why it failed, if it did.
        warnings: the warnings it emitted (Python warnings, log records at
            WARNING and above).
        messages: its log records below WARNING.
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
    artifact: object = None
    has_artifact: bool = False
    error: PipelineExecutionError | None = None
    warnings: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def is_invoked(self) -> bool:
        """Whether the pipeline was started in this run."""
        return self.state in (RunState.RUNNING, RunState.COMPLETED, RunState.FAILED)

    @property
    def is_success(self) -> bool | None:
        """True if it completed, False if it failed, None if it did not run."""
        if self.state is RunState.COMPLETED:
            return True

        if self.state is RunState.FAILED:
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
        """The names of the pipelines that failed."""
        return [r.pipe_name for r in self.records if r.state is RunState.FAILED]

    @property
    def succeeded(self) -> list[str]:
        """The names of the pipelines that completed."""
        return [r.pipe_name for r in self.records if r.state is RunState.COMPLETED]

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

    def artifacts(self) -> dict[str, object]:
        """Return the value each pipeline handed back with ``output()``."""
        return {r.pipe_name: r.artifact for r in self.records if r.has_artifact}

    def errors(self) -> dict[str, str]:
        """Return the error of each failed pipeline, as one line of text."""
        return {r.pipe_name: str(r.error) for r in self.records if r.error is not None}

    def warnings(self) -> dict[str, list[str]]:
        """Return the warnings of each pipeline that emitted any."""
        return {r.pipe_name: list(r.warnings) for r in self.records if r.warnings}

    def messages(self) -> dict[str, list[str]]:
        """Return the messages of each pipeline that emitted any."""
        return {r.pipe_name: list(r.messages) for r in self.records if r.messages}


def empty_status() -> pd.DataFrame:
    """Return the status table of a schedule that has not run yet."""
    return _status_frame([])


def _status_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame: pd.DataFrame = pd.DataFrame(rows, columns=STATUS_COLUMNS)
    for column in _TIME_COLUMNS:
        frame[column] = pd.to_datetime(frame[column], utc=True)

    frame["duration"] = frame["duration"].astype("float64")
    frame["success"] = frame["success"].astype("boolean")
    return frame
