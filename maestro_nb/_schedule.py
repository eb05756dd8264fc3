"""The schedule: every pipeline notebook of a project, validated and ordered.

``build_schedule`` (in ``_build``) reads the notebooks into a
:class:`Schedule`; :func:`check_schedule` decides, without running anything,
which pipelines are due at an instant. The runner uses the very same decision.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._clock import resolve_check_datetime
from ._exceptions import PipelineNotFoundError, TagError
from ._frequency import Frequency, parse_orch_frequency
from ._inspect import explain, get_flags, get_labels, get_network, get_slot_usage
from ._localtime import to_instant
from ._rounding import Grid
from ._tags import PipelineSpec
from ._timing import LOOKAHEAD_YEARS, Decision, add_years

if TYPE_CHECKING:
    from ._report import Summary
    from ._status import RunReport

__all__ = [
    "BuildError",
    "Schedule",
    "check_schedule",
    "get_run_sequence",
    "get_schedule",
    "last_build_errors",
]

logger = logging.getLogger(__name__)

SCHEDULE_COLUMNS = [
    "pipe_name",
    "notebook",
    "frequency",
    "frequency_n",
    "frequency_unit",
    "start_time",
    "tz",
    "skip",
    "log_level",
    "priority",
    "flags",
    "inputs",
    "outputs",
]
CHECK_COLUMNS = ["pipe_name", "is_due", "scheduled_time", "slot", "next_run"]
SEQUENCE_COLUMNS = ["pipe_name", "scheduled_time", "is_primary"]
_NO_POINTS = np.empty(0, dtype=np.int64)
BUILD_ERROR_COLUMNS = ["pipe_name", "notebook", "tag", "value", "message"]


@dataclass(frozen=True)
class BuildError:
    """One reason a notebook could not be scheduled."""

    pipe_name: str
    path: Path
    tag: str | None
    value: object
    message: str

    @classmethod
    def from_tag_error(cls, name: str, error: TagError) -> BuildError:
        """Record a :class:`TagError` against a pipeline name."""
        path = error.path if error.path is not None else Path(name)
        return cls(name, path, error.tag, error.value, str(error))


class Schedule:
    """The pipelines of a project, in run order, with what went wrong building them.

    Attributes:
        pipelines: every pipeline that built, by name, in run order.
        build_errors: one entry per problem found in a notebook.
        build_warnings: one sentence per tag that was read but is ignored.
        pipeline_dir: the folder the notebooks were read from.
        last_run: what the latest :func:`run_schedule` on it did, if any.
    """

    def __init__(
        self,
        pipelines: Iterable[PipelineSpec],
        build_errors: Iterable[BuildError] = (),
        pipeline_dir: Path | None = None,
    ) -> None:
        ordered = sorted(pipelines, key=lambda spec: spec.order_key)
        self.pipelines: dict[str, PipelineSpec] = {spec.name: spec for spec in ordered}
        self.build_errors: list[BuildError] = list(build_errors)
        self.pipeline_dir = pipeline_dir
        self.last_run: RunReport | None = None
        self.build_warnings: list[str] = []

    def __repr__(self) -> str:
        return (
            f"<Schedule: {len(self.pipelines)} pipelines, "
            f"{len(self.build_errors)} build errors>"
        )

    def __len__(self) -> int:
        return len(self.pipelines)

    def pipeline(self, name: str) -> PipelineSpec:
        """Return the pipeline of that name.

        Raises:
            PipelineNotFoundError: no pipeline of that name built.
        """
        try:
            return self.pipelines[name]
        except KeyError:
            raise PipelineNotFoundError(name, list(self.pipelines)) from None

    @cached_property
    def downstream_names(self) -> frozenset[str]:
        """Pipelines fed by another (``inputs``, or named in an ``outputs`` tag)."""
        named = {spec.name for spec in self.pipelines.values() if spec.inputs}
        for spec in self.pipelines.values():
            named.update(spec.outputs)

        return frozenset(named & set(self.pipelines))

    def descendants(self, name: str) -> list[str]:
        """Return every pipeline downstream of ``name``, nearest first."""
        found: list[str] = []
        frontier = [name]
        while frontier:
            current = frontier.pop(0)
            for child in self._children.get(current, []):
                if child not in found and child != name:
                    found.append(child)
                    frontier.append(child)

        return found

    @cached_property
    def _children(self) -> dict[str, list[str]]:
        """Each upstream pipeline's direct downstream pipelines."""
        edges = get_network(self)
        children: dict[str, list[str]] = {}
        for upstream, downstream in zip(edges["from"], edges["to"], strict=True):
            children.setdefault(upstream, []).append(downstream)

        return children

    def get_schedule(self) -> pd.DataFrame:
        """Return one row per pipeline: its notebook and resolved tags."""
        rows = [_schedule_row(spec) for spec in self.pipelines.values()]
        frame: pd.DataFrame = pd.DataFrame(rows, columns=SCHEDULE_COLUMNS)
        return frame

    def last_build_errors(self) -> pd.DataFrame:
        """Return one row per build error: pipeline, notebook, tag, value, message."""
        rows = [
            (e.pipe_name, str(e.path), e.tag, e.value, e.message)
            for e in self.build_errors
        ]
        frame: pd.DataFrame = pd.DataFrame(rows, columns=BUILD_ERROR_COLUMNS)
        return frame

    def decide(
        self, orch_frequency: str | Frequency, check_datetime: object = None
    ) -> list[tuple[PipelineSpec, Decision]]:
        """Return each pipeline's decision at the check instant, in run order."""
        frequency = _orch_frequency(orch_frequency)
        check = resolve_check_datetime(check_datetime)
        downstream = self.downstream_names
        decisions = []
        for spec in self.pipelines.values():
            # A downstream pipeline runs only when its upstream does, so its
            # own timing never makes it due.
            decision = spec.timing.decide(
                check,
                Grid(frequency, spec.tz),
                skip=spec.skip or spec.name in downstream,
            )
            logger.debug(
                "%s: %s at %s (slot %s, cycle point %s)",
                spec.path,
                "due" if decision.is_due else "not due",
                check,
                decision.slot,
                decision.scheduled_time,
            )
            decisions.append((spec, decision))

        return decisions

    def check(
        self, orch_frequency: str | Frequency = "1 day", check_datetime: object = None
    ) -> pd.DataFrame:
        """Return the due decision of every pipeline, due ones first, in run order."""
        decisions = self.decide(orch_frequency, check_datetime)
        rows = [
            (
                spec.name,
                decision.is_due,
                decision.scheduled_time,
                decision.slot,
                decision.next_run,
            )
            for spec, decision in decisions
        ]
        frame = pd.DataFrame(rows, columns=CHECK_COLUMNS)
        for column in ("scheduled_time", "slot", "next_run"):
            frame[column] = pd.to_datetime(frame[column], utc=True)

        due_first = frame.sort_values("is_due", ascending=False, kind="stable")
        table: pd.DataFrame = due_first.reset_index(drop=True)
        return table

    def get_run_sequence(
        self,
        n: int | None = None,
        min_datetime: object = None,
        max_datetime: object = None,
        include_only_primary: bool = False,
        include_skipped: bool = True,
    ) -> pd.DataFrame:
        """Return the cycle points of every pipeline in a window, in time order.

        Args:
            n: keep only the first ``n`` points of each pipeline.
            min_datetime: start of the window (inclusive); default now.
            max_datetime: end of the window (inclusive); default one day after
                the start, or five years when ``n`` is given.
            include_only_primary: leave out downstream pipelines, which
                otherwise appear at their root pipeline's times.
            include_skipped: keep pipelines tagged ``skip``.
        """
        start = resolve_check_datetime(min_datetime)
        if max_datetime is not None:
            end = to_instant(max_datetime)
        elif n is not None:
            end = add_years(start, LOOKAHEAD_YEARS)
        else:
            end = start + timedelta(days=1)

        blocks: list[tuple[str, np.ndarray, bool]] = []
        downstream = self.downstream_names
        for spec in self.pipelines.values():
            if spec.name in downstream or (spec.skip and not include_skipped):
                continue

            points = spec.timing.sequence(start, end, n)
            blocks.append((spec.name, points, True))
            if not include_only_primary:
                # Downstream pipelines run at their root's times.
                blocks.extend(
                    (name, points, False) for name in self.descendants(spec.name)
                )

        return _sequence_frame(blocks, list(self.pipelines))

    def get_flags(self) -> pd.DataFrame:
        """Return one row per (pipeline, flag)."""
        return get_flags(self)

    def get_labels(self) -> pd.DataFrame:
        """Return one row per (pipeline, label, value)."""
        return get_labels(self)

    def get_network(self) -> pd.DataFrame:
        """Return the DAG's edges as ``from`` and ``to`` columns."""
        return get_network(self)

    def get_slot_usage(
        self, orch_frequency: str | Frequency = "1 hour", slot_interval: str = "hour"
    ) -> pd.DataFrame:
        """Count pipelines per recurring slot (see :func:`get_slot_usage`)."""
        return get_slot_usage(self, orch_frequency, slot_interval)

    def explain(
        self,
        name: str,
        check_datetime: object = None,
        orch_frequency: str | Frequency = "1 day",
    ) -> str:
        """Say in plain words why a pipeline is or is not due at an instant."""
        return explain(self, name, check_datetime, orch_frequency)

    def summary(
        self,
        *,
        orch_frequency: str | None = None,
        n_show_next: int = 5,
        horizon: str = "auto",
        link_base: str | os.PathLike[str] | None = None,
        notes: Iterable[str] = (),
    ) -> Summary:
        """Return the summary page of this schedule and its last run.

        Display it in a notebook or ``.save()`` it as HTML; the arguments are
        those of :class:`maestro_nb.Summary`.
        """
        from ._report import report

        return report(
            self,
            orch_frequency=orch_frequency,
            n_show_next=n_show_next,
            horizon=horizon,
            link_base=link_base,
            notes=notes,
        )

    def get_status(self) -> pd.DataFrame:
        """Return one row per pipeline of the last run: how and when it ran.

        Columns: ``pipe_name``, ``notebook``, ``status``, ``invoked``,
        ``success``, ``started``, ``ended``, ``duration`` (seconds),
        ``errors``, ``warnings``, ``messages`` (counts), ``run_id``,
        ``output_notebook``, ``scheduled_time`` and ``next_run`` (UTC). Empty
        before the first run.
        """
        from ._status import empty_status

        if self.last_run is None:
            return empty_status()

        return self.last_run.status()

    def get_artifacts(self, by_run: bool = False) -> dict[str, object]:
        """Return the values the last run's pipelines handed to ``output()``.

        By pipeline name, a pipeline that ran more than once (``map``
        iterations, two lineages) maps to the list of its values in run
        order; with ``by_run=True`` the keys are run ids.
        """
        return {} if self.last_run is None else self.last_run.artifacts(by_run)

    def invoke(
        self, pipe_name: str, resources: dict[str, object] | None = None, **kwargs: Any
    ) -> Schedule:
        """Run one pipeline now, then its downstream DAG (see :func:`invoke`)."""
        from ._runner import invoke

        return invoke(self, pipe_name, resources, **kwargs)

    def last_run_errors(self) -> dict[str, str]:
        """Return the error of each pipeline that failed in the last run."""
        return {} if self.last_run is None else self.last_run.errors()

    def last_run_warnings(self) -> dict[str, list[str]]:
        """Return the warnings of each pipeline that emitted any in the last run."""
        return {} if self.last_run is None else self.last_run.warnings()

    def last_run_messages(self) -> dict[str, list[str]]:
        """Return the messages of each pipeline that emitted any in the last run."""
        return {} if self.last_run is None else self.last_run.messages()


def _sequence_frame(
    blocks: list[tuple[str, np.ndarray, bool]], names: list[str]
) -> pd.DataFrame:
    """Order rows by time; rows of one instant keep their order (run order).

    Sequences can hold millions of rows, so the frame is built from whole
    arrays: pipeline names as a categorical, times as epoch seconds.
    """
    sizes = [len(points) for _, points, _ in blocks]
    codes = np.repeat([names.index(name) for name, _, _ in blocks], sizes)
    seconds = np.concatenate([points for _, points, _ in blocks] or [_NO_POINTS])
    primary = np.repeat([is_primary for _, _, is_primary in blocks], sizes)
    order = np.argsort(seconds, kind="stable")
    pipe_names = pd.Categorical.from_codes(
        codes[order].astype(np.int64), categories=pd.Index(names)
    )
    frame: pd.DataFrame = pd.DataFrame(
        {
            "pipe_name": pipe_names,
            "scheduled_time": pd.DatetimeIndex(
                seconds[order].astype("datetime64[s]")
            ).tz_localize("UTC"),
            "is_primary": primary[order].astype(bool),
        },
        columns=SEQUENCE_COLUMNS,
    )
    return frame


def _schedule_row(spec: PipelineSpec) -> dict[str, Any]:
    return {
        "pipe_name": spec.name,
        "notebook": str(spec.path),
        "frequency": spec.frequency_text,
        "frequency_n": spec.frequency.amount,
        "frequency_unit": spec.frequency.unit,
        "start_time": spec.start.describe(),
        "tz": spec.tz_name,
        "skip": spec.skip,
        "log_level": spec.log_level,
        "priority": spec.priority,
        "flags": list(spec.flags),
        "inputs": list(spec.inputs),
        "outputs": list(spec.outputs),
    }


def _orch_frequency(value: str | Frequency) -> Frequency:
    if isinstance(value, Frequency):
        return value

    return parse_orch_frequency(value)


def get_schedule(schedule: Schedule) -> pd.DataFrame:
    """Return one row per pipeline (see :meth:`Schedule.get_schedule`)."""
    return schedule.get_schedule()


def last_build_errors(schedule: Schedule) -> pd.DataFrame:
    """Return the build errors of ``schedule`` as a DataFrame."""
    return schedule.last_build_errors()


def check_schedule(
    schedule: Schedule,
    orch_frequency: str | Frequency = "1 day",
    check_datetime: object = None,
) -> pd.DataFrame:
    """Return the due decision of every pipeline without running anything.

    Columns: ``pipe_name``, ``is_due``, ``scheduled_time`` (the cycle point
    that matched), ``slot`` and ``next_run``; due rows first, in run order.
    """
    return schedule.check(orch_frequency, check_datetime)


def get_run_sequence(
    schedule: Schedule,
    n: int | None = None,
    min_datetime: object = None,
    max_datetime: object = None,
    include_only_primary: bool = False,
    include_skipped: bool = True,
) -> pd.DataFrame:
    """Return the cycle points in a window (see :meth:`Schedule.get_run_sequence`)."""
    return schedule.get_run_sequence(
        n, min_datetime, max_datetime, include_only_primary, include_skipped
    )
