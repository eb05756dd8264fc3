"""Questions about a schedule that need no run: flags, labels, edges, slots, why.

These answer "when will this run?", "why didn't it run?" and "where do I put
a new one?" from the tags alone.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from ._clock import resolve_check_datetime
from ._frequency import Frequency, parse_orch_frequency
from ._localtime import UTC, to_wall, zone
from ._rounding import Grid, SlotWindow
from ._tags import PipelineSpec
from ._timing import rejected_points

if TYPE_CHECKING:
    from ._schedule import Schedule

__all__ = [
    "explain",
    "get_flags",
    "get_labels",
    "get_network",
    "get_slot_usage",
]

# Each recurring slot: how to read it off a local time, and how long a window
# of cycle points shows every value of it at least a few times.
_SLOT_INTERVALS: dict[str, tuple[str, timedelta]] = {
    "minute": ("minute of the hour", timedelta(days=1)),
    "hour": ("hour of the day", timedelta(days=7)),
    "weekday": ("day of the week", timedelta(days=28)),
    "day": ("day of the month", timedelta(days=366)),
    "month": ("month of the year", timedelta(days=366)),
}
_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SLOT_VALUES: dict[str, list[object]] = {
    "minute": list(range(60)),
    "hour": list(range(24)),
    "weekday": list(_WEEKDAY_NAMES),
    "day": list(range(1, 32)),
    "month": list(range(1, 13)),
}


def get_flags(schedule: Schedule) -> pd.DataFrame:
    """Return one row per (pipeline, flag)."""
    rows = [
        (spec.name, flag) for spec in schedule.pipelines.values() for flag in spec.flags
    ]
    frame: pd.DataFrame = pd.DataFrame(rows, columns=["pipe_name", "flag"])
    return frame


def get_labels(schedule: Schedule) -> pd.DataFrame:
    """Return one row per (pipeline, label, value)."""
    rows = [
        (spec.name, label, value)
        for spec in schedule.pipelines.values()
        for label, value in spec.labels.items()
    ]
    frame: pd.DataFrame = pd.DataFrame(rows, columns=["pipe_name", "label", "value"])
    return frame


def get_network(schedule: Schedule) -> pd.DataFrame:
    """Return the DAG's edges, ``from`` upstream ``to`` downstream.

    An edge may be drawn by the downstream's ``inputs`` or by the upstream's
    ``outputs``; either way it is listed once.
    """
    edges: dict[tuple[str, str], None] = {}
    for spec in schedule.pipelines.values():
        for upstream in spec.inputs:
            edges[(upstream, spec.name)] = None

        for downstream in spec.outputs:
            edges[(spec.name, downstream)] = None

    frame: pd.DataFrame = pd.DataFrame(list(edges), columns=["from", "to"])

    return frame


def get_slot_usage(
    schedule: Schedule,
    orch_frequency: str | Frequency = "1 hour",
    slot_interval: str = "hour",
    *,
    tz: str = "UTC",
    start: object = None,
) -> pd.DataFrame:
    """Count how many pipelines run in each recurring slot, to find a quiet one.

    Cycle points over a representative window from ``start`` (default now)
    are rounded to the orchestrator's slots and read in ``tz``.

    Args:
        schedule: the schedule.
        orch_frequency: the orchestrator's frequency (cycle points round to it).
        slot_interval: ``"minute"`` (of the hour), ``"hour"`` (of the day),
            ``"weekday"``, ``"day"`` (of the month) or ``"month"``.
        tz: the zone the slots are read in.
        start: the first instant of the window.

    Returns:
        One row per slot value: ``slot``, ``n_pipelines``, ``n_runs`` and
        ``pipe_names`` (comma-joined), every value of the interval included.

    Raises:
        ValueError: an unknown ``slot_interval``.
    """
    if slot_interval not in _SLOT_INTERVALS:
        raise ValueError(
            f"slot_interval {slot_interval!r} is not one of "
            f"{', '.join(_SLOT_INTERVALS)}"
        )

    frequency = _as_orch_frequency(orch_frequency)
    window_start = resolve_check_datetime(start)
    window_end = window_start + _SLOT_INTERVALS[slot_interval][1]
    runs: dict[object, list[str]] = defaultdict(list)
    for spec in schedule.pipelines.values():
        if spec.skip or spec.name in schedule.downstream_names:
            continue

        for slot in _rounded_points(spec, frequency, window_start, window_end):
            runs[_slot_value(to_wall(slot, zone(tz)), slot_interval)].append(spec.name)

    return _slot_frame(runs, slot_interval)


def _rounded_points(
    spec: PipelineSpec, frequency: Frequency, start: datetime, end: datetime
) -> list[datetime]:
    grid = Grid(frequency, spec.tz)
    points = spec.timing.sequence(start, end)
    return sorted({grid.round(datetime.fromtimestamp(p, UTC)) for p in points.tolist()})


def _slot_value(wall: datetime, slot_interval: str) -> object:
    return {
        "minute": wall.minute,
        "hour": wall.hour,
        "weekday": _WEEKDAY_NAMES[wall.weekday()],
        "day": wall.day,
        "month": wall.month,
    }[slot_interval]


def _slot_frame(runs: dict[object, list[str]], slot_interval: str) -> pd.DataFrame:
    every_value: list[object] = _SLOT_VALUES[slot_interval]
    rows = [
        (
            value,
            len(set(runs.get(value, []))),
            len(runs.get(value, [])),
            ", ".join(sorted(set(runs.get(value, [])))),
        )
        for value in every_value
    ]
    frame: pd.DataFrame = pd.DataFrame(
        rows, columns=["slot", "n_pipelines", "n_runs", "pipe_names"]
    )
    return frame


def explain(
    schedule: Schedule,
    name: str,
    check_datetime: object = None,
    orch_frequency: str | Frequency = "1 day",
) -> str:
    """Say in plain words why a pipeline is or is not due at an instant.

    Raises:
        PipelineNotFoundError: no pipeline of that name built.
    """
    spec = schedule.pipeline(name)
    frequency = _as_orch_frequency(orch_frequency)
    check = resolve_check_datetime(check_datetime)
    grid = Grid(frequency, spec.tz)
    window = grid.window(check)
    decision = spec.timing.decide(check, grid, skip=spec.skip)
    lines = [
        f"{spec.name} ({spec.path}): every {spec.frequency}"
        + (f" from {spec.start.describe()}" if spec.start.kind != "none" else "")
        + f", zone {spec.tz_name}.",
        f"Check at {_show(check, spec)} with a {frequency} orchestrator: slot "
        f"{_show(window.slot, spec)}, which takes cycle points from "
        f"{_show(window.start, spec)} up to (not including) {_show(window.end, spec)}.",
    ]
    lines.extend(_verdict(spec, decision.is_due, decision.scheduled_time, window))
    if decision.next_run is not None:
        lines.append(f"Next run: slot {_show(decision.next_run, spec)}.")
    elif not spec.skip:
        lines.append("Next run: none within five years of the check.")

    return "\n".join(lines)


def _verdict(
    spec: PipelineSpec, is_due: bool, matched: datetime | None, window: SlotWindow
) -> list[str]:
    if spec.skip:
        return ["Not due: the pipeline is tagged skip."]

    if is_due and matched is not None:
        return [f"Due: cycle point {_show(matched, spec)} rounds to this slot."]

    rejected = rejected_points(spec.timing, window.start, window.end)
    if rejected:
        return [
            f"Not due: cycle point {_show(point, spec)} falls in this slot but the "
            f"{reason} filter rejects it ({_filter_text(spec, reason)})."
            for point, reason in rejected
        ]

    return ["Not due: no cycle point falls in this slot."]


def _filter_text(spec: PipelineSpec, reason: str) -> str:
    filters = spec.timing.filters
    if reason == "hours":
        allowed = [str(hour) for hour in sorted(filters.hours)]
    elif reason == "months":
        allowed = [str(month) for month in sorted(filters.months)]
    elif filters.weekdays:
        allowed = [_WEEKDAY_NAMES[day] for day in sorted(filters.weekdays)]
    else:
        allowed = [str(day) for day in sorted(filters.month_days)]

    return f"allowed {reason}: {', '.join(allowed)}"


def _show(instant: datetime, spec: PipelineSpec) -> str:
    local = instant.astimezone(spec.tz)
    text = f"{instant:%Y-%m-%d %H:%M:%S} UTC"
    if spec.tz_name != "UTC":
        text += f" ({local:%Y-%m-%d %H:%M:%S %Z})"

    return text


def _as_orch_frequency(value: str | Frequency) -> Frequency:
    return value if isinstance(value, Frequency) else parse_orch_frequency(value)
