"""Catch-up: slots a pipeline was due in while no orchestrator ran.

Statelessness means a slot nobody checked is simply lost. With a run history
an orchestrator can opt in to look back over a window (``catch_up="1 day"``)
and run each slot that a pipeline was due in, that no orchestrator claimed,
and that came after the history began (so the first run with a new history
does not replay a whole day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ._frequency import Frequency, parse_frequency
from ._history import RunHistory
from ._localtime import UTC
from ._rounding import Grid
from ._tags import PipelineSpec

__all__ = ["MissedRun", "find_missed_runs", "parse_window"]


@dataclass(frozen=True)
class MissedRun:
    """A slot a pipeline missed: the slot and the cycle point that made it due."""

    spec: PipelineSpec
    slot: datetime
    scheduled_time: datetime


def parse_window(text: str) -> timedelta:
    """Turn ``"1 day"`` or ``"6 hours"`` into a look-back length.

    Raises:
        FrequencyError: not a frequency of seconds, minutes, hours, days or weeks.
    """
    window: Frequency = parse_frequency(text)
    if window.is_sub_daily:
        return timedelta(seconds=window.seconds)

    if window.unit in ("day", "week"):
        return timedelta(days=window.days)

    return timedelta(days=31 * window.months)


def find_missed_runs(
    specs: list[PipelineSpec],
    history: RunHistory,
    orch_frequency: Frequency,
    check: datetime,
    window: timedelta,
    excluded: frozenset[str] = frozenset(),
) -> list[MissedRun]:
    """Return the unclaimed slots of the window before the current one, oldest first.

    Args:
        specs: the pipelines to look at (scheduled, not skipped).
        history: where claims are recorded.
        orch_frequency: the orchestrator's frequency, to round cycle points.
        check: the current check instant.
        window: how far back to look.
        excluded: names never caught up (downstream pipelines follow their root).
    """
    since = max(check - window, history.started_at)
    missed: list[MissedRun] = []
    for spec in specs:
        if spec.skip or spec.name in excluded:
            continue

        missed.extend(_missed_for(spec, history, orch_frequency, check, since))

    return sorted(missed, key=lambda run: (run.slot, run.spec.order_key))


def _missed_for(
    spec: PipelineSpec,
    history: RunHistory,
    orch_frequency: Frequency,
    check: datetime,
    since: datetime,
) -> list[MissedRun]:
    grid = Grid(orch_frequency, spec.tz)
    current = grid.window(check)
    claimed = history.claimed_slots(spec.name, since - timedelta(days=1))
    slots: dict[datetime, datetime] = {}
    for seconds in spec.timing.sequence(since, current.start).tolist():
        point = datetime.fromtimestamp(seconds, UTC)
        slot = grid.round(point)
        if since <= slot < current.slot and slot not in claimed:
            slots.setdefault(slot, point)

    return [MissedRun(spec, slot, point) for slot, point in slots.items()]
