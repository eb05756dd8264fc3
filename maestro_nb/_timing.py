"""Whether a pipeline is due at an instant, when it runs next, and its run sequence.

This module is pure arithmetic: no I/O and no clock; "now" is always a
parameter. The rules, for a check at instant t with the orchestrator's grid in
the pipeline's zone:

* a cycle point *qualifies* when its own local time passes every filter
  (hours, days, months);
* the slot of the check is S = round(t); the pipeline is due when a
  qualifying point x has round(x) = S, even when x comes a little after t;
* its next run is round(x) for the first qualifying x with round(x) > S, as
  long as x is within five calendar years of t.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from ._cycles import Series
from ._localtime import UTC, localize, to_wall, walls_of
from ._rounding import Grid

__all__ = ["Decision", "Filters", "Timing", "add_years", "rejected_points"]

LOOKAHEAD_YEARS = 5
_TICK = timedelta(microseconds=1)
_CHUNK_SECONDS = 7 * 86_400
_SCALAR_JUMPS = 8


@dataclass(frozen=True)
class Filters:
    """The ``hours``, ``days`` and ``months`` tags, as sets (empty: no filter).

    ``weekdays`` holds 0 (Monday) to 6 (Sunday); ``month_days`` 1 to 31.
    """

    hours: frozenset[int] = field(default_factory=frozenset)
    weekdays: frozenset[int] = field(default_factory=frozenset)
    month_days: frozenset[int] = field(default_factory=frozenset)
    months: frozenset[int] = field(default_factory=frozenset)

    def rejection(self, wall: datetime) -> str | None:
        """Return the first filter that rejects a local time, or None."""
        if self.months and wall.month not in self.months:
            return "months"

        if self.weekdays and wall.weekday() not in self.weekdays:
            return "days"

        if self.month_days and wall.day not in self.month_days:
            return "days"

        if self.hours and wall.hour not in self.hours:
            return "hours"

        return None

    @property
    def is_empty(self) -> bool:
        """Whether no filter is set."""
        return not (self.hours or self.weekdays or self.month_days or self.months)

    def keep(self, points: np.ndarray, tz: ZoneInfo) -> np.ndarray:
        """Return the points (epoch seconds) whose local time passes every filter."""
        if self.is_empty or len(points) == 0:
            return points

        walls = walls_of(points, tz)
        passes = np.ones(len(points), dtype=bool)
        for values, selected in (
            (walls.month, self.months),
            (walls.day_of_week, self.weekdays),
            (walls.day, self.month_days),
            (walls.hour, self.hours),
        ):
            if selected:
                passes &= np.isin(np.asarray(values), list(selected))

        return points[passes]


@dataclass(frozen=True)
class Decision:
    """The answer for one pipeline at one check instant."""

    is_due: bool
    slot: datetime
    scheduled_time: datetime | None
    next_run: datetime | None


@dataclass(frozen=True)
class Timing:
    """A pipeline's cycle points, filters and zone: everything timing needs."""

    series: Series
    tz: ZoneInfo
    filters: Filters = field(default_factory=Filters)

    def decide(self, check: datetime, grid: Grid, *, skip: bool = False) -> Decision:
        """Decide whether the pipeline is due at ``check`` and when it runs next."""
        window = grid.window(check)
        if skip:
            return Decision(False, window.slot, None, None)

        matched = self.first_qualifying(window.start, window.end)
        horizon = add_years(check, LOOKAHEAD_YEARS)
        following = self.first_qualifying(window.end, horizon + _TICK)
        next_run = grid.round(following) if following is not None else None
        return Decision(matched is not None, window.slot, matched, next_run)

    def first_qualifying(self, start: datetime, end: datetime) -> datetime | None:
        """Return the first qualifying point x with ``start <= x < end``.

        A point a filter rejects lets the search jump to the next allowed
        local hour, day or month rather than stepping through every point: a
        ``1 minute`` pipeline limited to ``months: [12]`` checked in January
        jumps straight to December 1st. Filters that reject point after point
        (hours that the series never hits) hand over to a search in bulk.
        """
        cursor = start
        for _ in range(_SCALAR_JUMPS):
            if cursor >= end:
                return None

            point = self.series.first_at_or_after(cursor)
            if point is None or point >= end:
                return None

            wall = to_wall(point, self.tz)
            rejected_by = self.filters.rejection(wall)
            if rejected_by is None:
                return point

            cursor = max(self._skip_past(wall, rejected_by), point + _TICK)

        return self._first_qualifying_in_bulk(cursor, end)

    def _first_qualifying_in_bulk(
        self, start: datetime, end: datetime
    ) -> datetime | None:
        """Scan whole windows of points, each four times longer than the last."""
        low = math.ceil(start.timestamp())
        high = math.ceil(end.timestamp())
        span = _CHUNK_SECONDS
        while low < high:
            chunk_end = min(high, low + span)
            points = self.series.points_between(low, chunk_end)
            kept = self.filters.keep(points, self.tz)
            if len(kept):
                return datetime.fromtimestamp(int(kept[0]), UTC)

            low, span = chunk_end, span * 4

        return None

    def sequence(
        self, start: datetime, end: datetime, limit: int | None = None
    ) -> np.ndarray:
        """Return the qualifying points ``start <= x <= end`` as epoch seconds.

        With ``limit``, only the first ``limit`` points; the window is then
        laid out in growing chunks so that a far ``end`` costs nothing.
        """
        low = math.ceil(start.timestamp())
        high = math.floor(end.timestamp()) + 1
        if limit is None:
            return self.filters.keep(self.series.points_between(low, high), self.tz)

        found: list[np.ndarray] = []
        count, span = 0, _CHUNK_SECONDS
        while count < limit and low < high:
            chunk_end = min(high, low + span)
            points = self.filters.keep(
                self.series.points_between(low, chunk_end), self.tz
            )
            found.append(points[: limit - count])
            count += len(found[-1])
            low, span = chunk_end, span * 4

        return np.concatenate(found) if found else np.empty(0, dtype=np.int64)

    def _skip_past(self, wall: datetime, rejected_by: str) -> datetime:
        """Return the first instant of the next local month, day or hour allowed.

        Jumping straight to the next allowed value (not merely the next hour)
        keeps the search to a few steps whatever the frequency.
        """
        filters = self.filters
        midnight = wall.replace(hour=0, minute=0, second=0, microsecond=0)
        if rejected_by == "months":
            later = [m for m in sorted(filters.months) if m > wall.month]
            year = wall.year if later else wall.year + 1
            target = datetime(year, later[0] if later else min(filters.months), 1)
        elif rejected_by == "days" and filters.weekdays:
            ahead = min((day - wall.weekday()) % 7 or 7 for day in filters.weekdays)
            target = midnight + timedelta(days=ahead)
        elif rejected_by == "days":
            later = [d for d in sorted(filters.month_days) if d > wall.day]
            last_day = calendar.monthrange(wall.year, wall.month)[1]
            if later and later[0] <= last_day:
                target = midnight.replace(day=later[0])
            else:
                target = midnight.replace(day=last_day) + timedelta(days=1)
        else:
            later = [h for h in sorted(filters.hours) if h > wall.hour]
            if later:
                target = midnight.replace(hour=later[0])
            else:
                target = midnight + timedelta(days=1)

        return localize(target, self.tz)


@lru_cache(maxsize=256)
def add_years(instant: datetime, years: int) -> datetime:
    """Add calendar years in UTC; February 29th becomes February 28th."""
    utc = instant.astimezone(UTC)
    year = utc.year + years
    day = min(utc.day, calendar.monthrange(year, utc.month)[1])
    return utc.replace(year=year, day=day)


def rejected_points(
    timing: Timing, start: datetime, end: datetime, limit: int = 5
) -> list[tuple[datetime, str]]:
    """Return up to ``limit`` cycle points in ``[start, end)`` a filter rejected.

    Used to explain a decision, so it steps point by point; ``limit`` bounds it.
    """
    rejected: list[tuple[datetime, str]] = []
    cursor = start
    while len(rejected) < limit:
        point = timing.series.first_at_or_after(cursor)
        if point is None or point >= end:
            break

        reason = timing.filters.rejection(to_wall(point, timing.tz))
        if reason is not None:
            rejected.append((point, reason))

        cursor = point + _TICK

    return rejected
