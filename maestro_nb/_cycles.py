"""Start times and the cycle points they lay out.

A pipeline's cycle points are one fixed series of instants derived from its
frequency, its ``startTime`` tag and its zone; they never depend on when the
orchestrator looks at them. Every series answers one question,
:meth:`Series.first_at_or_after`, from which due decisions, next runs and run
sequences are all built.

The epoch of series without a full start date is 2024-01-01 00:00 local time,
a Monday; weeks start on Monday.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

import numpy as np

from ._frequency import Frequency
from ._localtime import localize, localize_many, to_wall

__all__ = ["Series", "StartTime", "build_series", "parse_start_time"]

EPOCH = date(2024, 1, 1)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

StartKind = Literal["none", "full", "time", "weekday", "monthday"]

_CLOCK = r"(\d{2}):(\d{2})(?::(\d{2}))?"
_FULL = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:\s+" + _CLOCK + ")?")
_TIME_OF_DAY = re.compile(_CLOCK)
_WEEKDAY = re.compile(r"([A-Za-z]+)\s+" + _CLOCK)
_MONTH_DAY = re.compile(r"(\d{1,2})(?:\s+" + _CLOCK + ")?")

START_FORMS = (
    "'YYYY-MM-DD HH:MM:SS', 'YYYY-MM-DD', 'HH:MM:SS', 'Ddd HH:MM:SS' "
    "(Ddd one of Mon..Sun) or 'DD[ HH:MM:SS]' (DD 1-31); seconds are optional"
)


@dataclass(frozen=True)
class StartTime:
    """A parsed ``startTime`` tag: which form it has and its fields."""

    kind: StartKind
    day: date | None = None
    clock: time = time(0, 0)
    weekday: int | None = None
    month_day: int | None = None

    def describe(self) -> str:
        """Return the start in the tag's own notation."""
        clock = self.clock.isoformat()
        if self.kind == "full" and self.day is not None:
            return f"{self.day.isoformat()} {clock}"

        if self.kind == "weekday" and self.weekday is not None:
            return f"{WEEKDAYS[self.weekday]} {clock}"

        if self.kind == "monthday":
            return f"{self.month_day:02d} {clock}"

        return clock if self.kind == "time" else ""


def parse_start_time(text: str | None) -> StartTime:
    """Parse a ``startTime`` tag into a :class:`StartTime`.

    Raises:
        ValueError: the text is none of the accepted forms, or out of range.
    """
    if text is None:
        return StartTime("none")

    stripped = text.strip()
    for pattern, build in (
        (_FULL, _full_start),
        (_TIME_OF_DAY, _time_start),
        (_WEEKDAY, _weekday_start),
        (_MONTH_DAY, _month_day_start),
    ):
        match = pattern.fullmatch(stripped)
        if match is not None:
            return build(match)

    raise ValueError(f"not a start time; expected {START_FORMS}")


def check_start_fits(start: StartTime, frequency: Frequency) -> None:
    """Refuse a partial start that the frequency cannot use.

    Raises:
        ValueError: naming the start form and the frequencies it goes with.
    """
    unit = frequency.unit
    if start.kind == "time" and unit in ("week", "month", "year"):
        raise ValueError(
            f"a time-of-day start cannot be used with a {unit} frequency; use a "
            "sub-daily or day frequency, or a full 'YYYY-MM-DD HH:MM:SS' start"
        )

    if start.kind == "weekday" and unit != "week":
        raise ValueError(
            "a weekday start needs a week frequency (N weeks, weekly, biweekly)"
        )

    if start.kind == "monthday" and unit != "month":
        raise ValueError(
            "a month-day start needs a month frequency (N months, monthly, "
            "quarterly; not years: use 12 months)"
        )


def _clock(match: re.Match[str], first: int) -> time:
    """Read HH, MM and optional SS from a match, starting at group ``first``."""
    hour, minute, second = match.group(first, first + 1, first + 2)
    if hour is None:
        return time(0, 0)

    values = (int(hour), int(minute), int(second or 0))
    if values[0] > 23 or values[1] > 59 or values[2] > 59:
        raise ValueError("the time of day is out of range (00:00:00 to 23:59:59)")

    return time(*values)


def _full_start(match: re.Match[str]) -> StartTime:
    year, month, day = (int(part) for part in match.group(1, 2, 3))
    try:
        start_day = date(year, month, day)
    except ValueError:
        raise ValueError(
            f"{year:04d}-{month:02d}-{day:02d} is not a calendar date"
        ) from None

    return StartTime("full", day=start_day, clock=_clock(match, 4))


def _time_start(match: re.Match[str]) -> StartTime:
    return StartTime("time", clock=_clock(match, 1))


def _weekday_start(match: re.Match[str]) -> StartTime:
    name = match.group(1)
    if name not in WEEKDAYS:
        raise ValueError(
            f"weekday {name!r} must be a three-letter abbreviation, one of "
            + ", ".join(WEEKDAYS)
        )

    return StartTime("weekday", weekday=WEEKDAYS.index(name), clock=_clock(match, 2))


def _month_day_start(match: re.Match[str]) -> StartTime:
    day = int(match.group(1))
    if not 1 <= day <= 31:
        raise ValueError(f"day of month {day} is out of range (1 to 31)")

    return StartTime("monthday", month_day=day, clock=_clock(match, 2))


class Series(Protocol):
    """A strictly increasing series of cycle points.

    ``first_at_or_after`` answers for one instant (due decisions, next runs);
    ``points_between`` lays out a whole window at once as int64 UTC epoch
    seconds (run sequences), sharing the work of localizing wall times.
    """

    def first_at_or_after(self, instant: datetime) -> datetime | None:
        """Return the first point at or after ``instant`` (None: out of range)."""

    def points_between(self, low: int, high: int) -> np.ndarray:
        """Return the points ``low <= p < high`` (epoch seconds), ascending."""


@dataclass(frozen=True)
class ElapsedSeries:
    """Points ``anchor + k * step`` for k >= 0, in elapsed seconds."""

    anchor: datetime
    step: int

    def first_at_or_after(self, instant: datetime) -> datetime | None:
        """Return the first point at or after ``instant``."""
        if instant <= self.anchor:
            return self.anchor

        elapsed = (instant - self.anchor).total_seconds()
        steps = math.ceil(elapsed / self.step)
        return _shift(self.anchor, seconds=steps * self.step)

    def points_between(self, low: int, high: int) -> np.ndarray:
        """Return the points ``low <= p < high`` (epoch seconds), ascending."""
        anchor = int(self.anchor.timestamp())
        first = max(0, -((anchor - low) // self.step))
        last = -((anchor - high) // self.step)
        if last <= first:
            return _EMPTY

        return anchor + np.arange(first, last, dtype=np.int64) * self.step


@dataclass(frozen=True)
class DailyRestartSeries:
    """Sub-daily points that restart every local day at a time of day.

    For every local date D the points are D@clock + k * step (elapsed time)
    that come before (D+1)@clock. ``6 hours`` from 05:00 therefore runs at
    05:00, 11:00, 17:00 and 23:00 local on every day. On Paris' 25-hour day
    (27 Oct 2024) 23:00 CEST on the 26th + 6 h is 04:00 CET on the 27th,
    still before that day's 05:00, so that day holds one more point.
    """

    clock: time
    step: int
    tz: ZoneInfo

    def first_at_or_after(self, instant: datetime) -> datetime | None:
        """Return the first point at or after ``instant``."""
        day = to_wall(instant, self.tz).date()
        day_start = self._day_start(day)
        while day_start is not None and day_start > instant:
            day = day - timedelta(days=1)
            day_start = self._day_start(day)

        next_day_start = self._day_start(day + timedelta(days=1))
        if day_start is None or next_day_start is None:
            return None

        steps = math.ceil((instant - day_start).total_seconds() / self.step)
        point = _shift(day_start, seconds=steps * self.step)
        if point is not None and point < next_day_start:
            return point

        return next_day_start

    def _day_start(self, day: date) -> datetime | None:
        try:
            return localize(datetime.combine(day, self.clock), self.tz)
        except OverflowError:
            return None

    def points_between(self, low: int, high: int) -> np.ndarray:
        """Return the points ``low <= p < high`` (epoch seconds), ascending.

        Each local day contributes ``ceil(day length / step)`` points from its
        start; all days are laid out in one vectorised pass.
        """
        first_day = _local_day(low, self.tz) - np.timedelta64(1, "D")
        last_day = _local_day(high, self.tz) + np.timedelta64(1, "D")
        starts = _day_starts(self.tz, self.clock, first_day, last_day)
        counts = -((starts[:-1] - starts[1:]) // self.step)
        offsets = np.arange(int(counts.sum()), dtype=np.int64)
        offsets -= np.repeat(np.cumsum(counts) - counts, counts)
        points = np.repeat(starts[:-1], counts) + offsets * self.step
        return points[(points >= low) & (points < high)]


@dataclass(frozen=True)
class DaySeries:
    """Points at a time of day every ``step`` local days from an anchor date.

    ``bounded`` series start at the anchor (a full start date); the others
    extend in both directions from it.
    """

    anchor: date
    clock: time
    step: int
    bounded: bool
    tz: ZoneInfo

    def first_at_or_after(self, instant: datetime) -> datetime | None:
        """Return the first point at or after ``instant``."""
        day = to_wall(instant, self.tz).date()
        k = (day - self.anchor).days // self.step - 1
        return _first_index_at_or_after(self._point, k, self.bounded, instant)

    def _point(self, k: int) -> datetime | None:
        try:
            day = self.anchor + timedelta(days=k * self.step)
        except OverflowError:
            return None

        return localize(datetime.combine(day, self.clock), self.tz)

    def points_between(self, low: int, high: int) -> np.ndarray:
        """Return the points ``low <= p < high`` (epoch seconds), ascending."""
        anchor = np.datetime64(self.anchor, "D")
        first_day = _local_day(low, self.tz) - np.timedelta64(1, "D")
        last_day = _local_day(high, self.tz) + np.timedelta64(1, "D")
        first = int((first_day - anchor).astype(np.int64)) // self.step
        last = int((last_day - anchor).astype(np.int64)) // self.step + 1
        if self.bounded:
            first = max(first, 0)

        steps = np.arange(first, max(first, last), dtype=np.int64) * self.step
        walls = anchor + steps.astype("timedelta64[D]") + _clock_seconds(self.clock)
        return _within(localize_many(walls, self.tz), low, high)


@dataclass(frozen=True)
class MonthSeries:
    """Points on a day of the month every ``step`` months from an anchor month.

    The months are counted from the anchor month, never from the previous
    point, and the day is clamped to each month's length: day 31 monthly gives
    Jan 31, Feb 29, Mar 31, Apr 30; Feb 29 yearly gives Feb 28 in common years
    and Feb 29 again in leap years.
    """

    anchor_month: int
    day: int
    clock: time
    step: int
    bounded: bool
    tz: ZoneInfo

    def first_at_or_after(self, instant: datetime) -> datetime | None:
        """Return the first point at or after ``instant``."""
        wall = to_wall(instant, self.tz)
        month = wall.year * 12 + wall.month - 1
        k = (month - self.anchor_month) // self.step - 1
        return _first_index_at_or_after(self._point, k, self.bounded, instant)

    def _point(self, k: int) -> datetime | None:
        year, month = divmod(self.anchor_month + k * self.step, 12)
        if not 1 <= year <= 9999:
            return None

        day = min(self.day, calendar.monthrange(year, month + 1)[1])
        return localize(
            datetime.combine(date(year, month + 1, day), self.clock), self.tz
        )

    def points_between(self, low: int, high: int) -> np.ndarray:
        """Return the points ``low <= p < high`` (epoch seconds), ascending."""
        first_month = _month_index(_local_day(low, self.tz)) - 1
        last_month = _month_index(_local_day(high, self.tz)) + 1
        first = (first_month - self.anchor_month) // self.step
        last = (last_month - self.anchor_month) // self.step + 1
        if self.bounded:
            first = max(first, 0)

        months = self.anchor_month + np.arange(first, max(first, last)) * self.step
        months = months[(months >= 12) & (months < 10000 * 12)]
        month_starts = (months - 1970 * 12).astype("datetime64[M]")
        first_days = month_starts.astype("datetime64[D]")
        month_days = (month_starts + 1).astype("datetime64[D]") - first_days
        day = np.minimum(self.day, month_days.astype(np.int64)) - 1
        walls = first_days + day.astype("timedelta64[D]") + _clock_seconds(self.clock)
        return _within(localize_many(walls, self.tz), low, high)


_EMPTY = np.empty(0, dtype=np.int64)


def _local_day(instant: int, tz: ZoneInfo) -> np.datetime64:
    """Return the local date of an epoch second."""
    moment = datetime.fromtimestamp(instant, tz)
    return np.datetime64(moment.date(), "D")


def _month_index(day: np.datetime64) -> int:
    """Return year * 12 + month - 1 of a date."""
    return int(day.astype("datetime64[M]").astype(np.int64)) + 1970 * 12


def _clock_seconds(clock: time) -> np.timedelta64:
    seconds = clock.hour * 3600 + clock.minute * 60 + clock.second
    return np.timedelta64(seconds, "s")


def _within(points: np.ndarray, low: int, high: int) -> np.ndarray:
    return points[(points >= low) & (points < high)]


@lru_cache(maxsize=512)
def _day_starts(
    tz: ZoneInfo, clock: time, first_day: np.datetime64, last_day: np.datetime64
) -> np.ndarray:
    """Return the instants of ``clock`` on every local day, both ends included.

    Pipelines of one zone and start time share these, which is most of the
    cost of laying out a sub-daily series.
    """
    days = np.arange(first_day, last_day + np.timedelta64(1, "D"))
    starts = localize_many(days + _clock_seconds(clock), tz)
    starts.setflags(write=False)
    return starts


def _first_index_at_or_after(
    point: _PointAt, k: int, bounded: bool, instant: datetime
) -> datetime | None:
    """Walk the index ``k`` to the first point at or after ``instant``.

    The caller's guess lies a step or so before the answer; the walk back
    covers the rare case of a guess that already lies after it.
    """
    if bounded:
        k = max(k, 0)

    candidate = point(k)
    if _at_or_after(candidate, instant):
        while (not bounded or k > 0) and _at_or_after(point(k - 1), instant):
            k -= 1

        return point(k)

    while candidate is not None and candidate < instant:
        k += 1
        candidate = point(k)

    return candidate


class _PointAt(Protocol):
    def __call__(self, k: int) -> datetime | None: ...


def _at_or_after(candidate: datetime | None, instant: datetime) -> bool:
    return candidate is not None and candidate >= instant


def _shift(instant: datetime, *, seconds: int) -> datetime | None:
    try:
        return instant + timedelta(seconds=seconds)
    except OverflowError:
        return None


def build_series(frequency: Frequency, start: StartTime, tz: ZoneInfo) -> Series:
    """Lay out the cycle points of a frequency, a start and a zone.

    The start must already have passed :func:`check_start_fits`.
    """
    if frequency.is_sub_daily:
        return _sub_daily_series(frequency, start, tz)

    if frequency.unit in ("day", "week"):
        return _day_series(frequency, start, tz)

    return _month_series(frequency, start, tz)


# Any amount is valid, however large. A step longer than the calendar itself
# (years 1 to 9999) leaves at most one point in range, whatever its size, so
# steps are capped there to keep the arithmetic in 64-bit integers.
_MAX_DAYS = 3_700_000
_MAX_MONTHS = 121_000
# A series restarting every local day holds one point a day once its step
# outlasts the longest day (25 hours).
_MAX_RESTART_SECONDS = 2 * 86_400


def _sub_daily_series(frequency: Frequency, start: StartTime, tz: ZoneInfo) -> Series:
    if start.kind == "full" and start.day is not None:
        anchor = localize(datetime.combine(start.day, start.clock), tz)
        return ElapsedSeries(anchor, min(frequency.seconds, _MAX_DAYS * 86_400))

    step = min(frequency.seconds, _MAX_RESTART_SECONDS)
    return DailyRestartSeries(start.clock, step, tz)


def _day_series(frequency: Frequency, start: StartTime, tz: ZoneInfo) -> Series:
    step = min(frequency.days, _MAX_DAYS)
    if start.kind == "full" and start.day is not None:
        return DaySeries(start.day, start.clock, step, True, tz)

    anchor = EPOCH
    if start.kind == "weekday" and start.weekday is not None:
        anchor = EPOCH + timedelta(days=start.weekday)

    return DaySeries(anchor, start.clock, step, False, tz)


def _month_series(frequency: Frequency, start: StartTime, tz: ZoneInfo) -> Series:
    step = min(frequency.months, _MAX_MONTHS)
    if start.kind == "full" and start.day is not None:
        anchor = start.day.year * 12 + start.day.month - 1
        return MonthSeries(anchor, start.day.day, start.clock, step, True, tz)

    epoch_month = EPOCH.year * 12 + EPOCH.month - 1
    day = start.month_day if start.month_day is not None else 1
    return MonthSeries(epoch_month, day, start.clock, step, False, tz)
