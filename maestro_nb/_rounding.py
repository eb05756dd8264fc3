"""The orchestrator's grid of slots, and rounding instants to it.

The orchestrator runs every ``orch_frequency``; each of its runs stands for
one *slot*, a boundary of a grid of local wall-clock times in the pipeline's
zone:

* ``N seconds``: seconds 0, N, 2N, ... of every minute;
* ``N minutes``: minutes 0, N, 2N, ... of every hour;
* ``N hours``: hours 0, N, 2N, ... of every day;
* ``N days``: midnight of days 1, 1+N, ... of every month;
* ``1 week``: Monday 00:00; ``N months``: the 1st of months 1, 1+N, ...;
  ``1 year``: January 1st.

An instant rounds to the nearest boundary in elapsed time, an exact tie going
to the later one. A grid time inside a spring-forward gap becomes the first
instant after the gap; one inside a fall-back overlap is a boundary twice,
once in each pass: with an hourly grid in New York on 2024-11-03, 01:00 EDT
(05:00 UTC) and 01:00 EST (06:00 UTC) are both boundaries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from ._frequency import Frequency
from ._localtime import localize_all, to_wall

__all__ = ["Grid", "SlotWindow"]

# How far beyond one grid step a neighbouring boundary can lie in elapsed
# time: a DST shift (at most 2 hours in use today) plus margin.
_SHIFT_MARGIN = timedelta(hours=3)
_ONE_DAY = timedelta(days=1)
# The span each sub-daily grid restarts in: seconds restart every minute, ...
_PERIODS = {
    "second": timedelta(minutes=1),
    "minute": timedelta(hours=1),
    "hour": _ONE_DAY,
}


@dataclass(frozen=True)
class SlotWindow:
    """A slot and the instants that round to it: ``start <= x < end``."""

    slot: datetime
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Grid:
    """The orchestrator's boundaries in one zone."""

    frequency: Frequency
    tz: ZoneInfo

    def round(self, instant: datetime) -> datetime:
        """Return the boundary nearest to ``instant`` (ties to the later one)."""
        return _cached_round(self, instant)

    def _round(self, instant: datetime) -> datetime:
        before, after = self._neighbours(instant)
        if after - instant <= instant - before:
            return after

        return before

    def window(self, instant: datetime) -> SlotWindow:
        """Return the slot ``instant`` rounds to, with the span rounding to it."""
        return _cached_window(self, instant)

    def _window(self, instant: datetime) -> SlotWindow:
        slot = self.round(instant)
        previous, _ = self._neighbours(slot - timedelta(microseconds=1))
        _, following = self._neighbours(slot)
        return SlotWindow(
            slot=slot,
            start=previous + (slot - previous) / 2,
            end=slot + (following - slot) / 2,
        )

    def _neighbours(self, instant: datetime) -> tuple[datetime, datetime]:
        """Return the last boundary at or before and the first after ``instant``."""
        if self.frequency.unit in _PERIODS:
            steady = self._steady_neighbours(instant)
            if steady is not None:
                return steady

        boundaries = self._boundaries_near(instant)
        before = max(b for b in boundaries if b <= instant)
        after = min(b for b in boundaries if b > instant)
        return before, after

    def _steady_neighbours(self, instant: datetime) -> tuple[datetime, datetime] | None:
        """Neighbours by plain arithmetic, when no offset change is near.

        Away from DST changes a sub-daily grid is regular on the wall clock,
        so the neighbours follow from the position inside the minute, hour or
        day; near a change this returns None and the boundaries are listed.
        """
        reach = self._step_upper_bound() + _SHIFT_MARGIN
        offset = instant.astimezone(self.tz).utcoffset()
        if (instant - reach).astimezone(self.tz).utcoffset() != offset or (
            instant + reach
        ).astimezone(self.tz).utcoffset() != offset:
            return None

        wall = to_wall(instant, self.tz)
        period = _PERIODS[self.frequency.unit]
        period_start = _truncate(wall, self.frequency.unit)
        step = timedelta(seconds=self.frequency.seconds)
        before = period_start + step * ((wall - period_start) // step)
        after = min(before + step, period_start + period)
        return instant - (wall - before), instant + (after - wall)

    def _boundaries_near(self, instant: datetime) -> list[datetime]:
        """Return every boundary within a step (plus any DST shift) of ``instant``.

        Boundaries are wall-clock readings, so the wall-clock window to scan
        is widened by how much the zone's offset varies around ``instant``.
        """
        reach = self._step_upper_bound() + _SHIFT_MARGIN
        offsets = [
            (instant + reach * fraction).astimezone(self.tz).utcoffset()
            for fraction in (-1, -0.5, 0, 0.5, 1)
        ]
        known = [offset for offset in offsets if offset is not None]
        spread = max(known) - min(known)
        if self._step_upper_bound() >= _ONE_DAY:
            spread += 2 * _ONE_DAY

        wall = to_wall(instant, self.tz)
        span = self._step_upper_bound() + spread + timedelta(seconds=1)
        walls = _grid_walls(self.frequency, wall - span, wall + span)
        return sorted({b for w in walls for b in localize_all(w, self.tz)})

    def _step_upper_bound(self) -> timedelta:
        """Return a length no grid step (in wall-clock time) exceeds."""
        unit, amount = self.frequency.unit, self.frequency.amount
        if unit in ("second", "minute", "hour"):
            return timedelta(seconds=self.frequency.seconds)

        if unit == "day":
            return timedelta(days=amount + 1)

        if unit == "week":
            return timedelta(days=7)

        return timedelta(days=31 * self.frequency.months + 1)


@lru_cache(maxsize=1 << 14)
def _cached_round(grid: Grid, instant: datetime) -> datetime:
    """Pipelines of one zone often share their next cycle point (midnight, say)."""
    return grid._round(instant)


@lru_cache(maxsize=4096)
def _cached_window(grid: Grid, instant: datetime) -> SlotWindow:
    """One orchestrator run asks for the same window once per zone, not per pipeline."""
    return grid._window(instant)


def _grid_walls(
    frequency: Frequency, low: datetime, high: datetime
) -> Iterator[datetime]:
    """Yield the grid's wall-clock times from ``low`` to ``high``, in order."""
    unit, amount = frequency.unit, frequency.amount
    if unit in ("second", "minute", "hour"):
        yield from _sub_daily_walls(unit, amount, low, high)
    elif unit == "day":
        yield from _month_day_walls(amount, low, high)
    elif unit == "week":
        yield from _monday_walls(low, high)
    else:
        yield from _month_walls(frequency.months, low, high)


def _sub_daily_walls(
    unit: str, amount: int, low: datetime, high: datetime
) -> Iterator[datetime]:
    """Grid readings that restart every minute, hour or day."""
    period, field, size = {
        "second": (timedelta(minutes=1), "second", 60),
        "minute": (timedelta(hours=1), "minute", 60),
        "hour": (_ONE_DAY, "hour", 24),
    }[unit]
    cycle_start = _truncate(low, unit)
    while cycle_start <= high:
        for value in range(0, size, amount):
            wall = _with_field(cycle_start, field, value)
            if low <= wall <= high:
                yield wall

        cycle_start += period


def _with_field(wall: datetime, field: str, value: int) -> datetime:
    if field == "second":
        return wall.replace(second=value)

    if field == "minute":
        return wall.replace(minute=value)

    return wall.replace(hour=value)


def _truncate(wall: datetime, unit: str) -> datetime:
    """Return the start of the minute, hour or day holding ``wall``."""
    if unit == "second":
        return wall.replace(second=0, microsecond=0)

    if unit == "minute":
        return wall.replace(minute=0, second=0, microsecond=0)

    return wall.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_day_walls(amount: int, low: datetime, high: datetime) -> Iterator[datetime]:
    """Midnight of days 1, 1+N, ... of every month."""
    day = low.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= high:
        if (day.day - 1) % amount == 0 and day >= low:
            yield day

        day += _ONE_DAY


def _monday_walls(low: datetime, high: datetime) -> Iterator[datetime]:
    """Midnight of every Monday."""
    day = low.replace(hour=0, minute=0, second=0, microsecond=0)
    day -= timedelta(days=day.weekday())
    while day <= high:
        if day >= low:
            yield day

        day += timedelta(days=7)


def _month_walls(months: int, low: datetime, high: datetime) -> Iterator[datetime]:
    """Midnight of the 1st of months 1, 1+N, ... of every year (N=12: Jan 1)."""
    year, month = low.year, low.month
    while True:
        wall = datetime(year, month, 1)
        if wall > high:
            return

        if (month - 1) % months == 0 and wall >= low:
            yield wall

        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
