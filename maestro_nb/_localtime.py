"""Turning local wall-clock times into instants and back.

Every instant inside maestro_nb is an aware ``datetime`` in UTC. Wall-clock
arithmetic (dates, times of day, month steps) happens on naive datetimes that
mean "this reading of the clock in zone Z"; :func:`localize` is the one place
where such a reading becomes an instant, so the policy for readings that do
not exist or exist twice lives here:

* A reading inside a spring-forward gap happens at the first instant after the
  gap. On 2024-03-10 New York clocks jump from 02:00 EST to 03:00 EDT, so
  02:30 does not exist; it is taken as 03:00 EDT (07:00 UTC), not as 03:30.
* A reading inside a fall-back overlap happens once, at its first occurrence.
  On 2024-11-03 New York reads 01:30 twice; the EDT one (05:30 UTC) is used.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

__all__ = [
    "UTC",
    "localize",
    "localize_all",
    "localize_many",
    "to_instant",
    "to_wall",
    "walls_of",
    "zone",
]

UTC = timezone.utc


@cache
def zone(name: str) -> ZoneInfo:
    """Return the zone of that IANA name (cached)."""
    return ZoneInfo(name)


def to_wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """Return the naive wall-clock reading of ``instant`` in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None)


@lru_cache(maxsize=1 << 16)
def localize(wall: datetime, tz: ZoneInfo) -> datetime:
    """Return the instant (UTC) of a wall-clock reading, by the policy above.

    Cached: pipelines of one zone share most readings (midnights, the hour).
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if to_wall(first, tz) == wall:
        return first

    return _gap_end(wall, tz)


def localize_all(wall: datetime, tz: ZoneInfo) -> list[datetime]:
    """Return every instant the clock reads ``wall``: one, or two in an overlap.

    A reading inside a gap still yields one instant, the end of the gap, as
    :func:`localize` does; the orchestrator's grid needs both passes of an
    overlap, so it uses this rather than :func:`localize`.
    """
    first = localize(wall, tz)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if second != first and to_wall(second, tz) == wall:
        return [first, second]

    return [first]


def _gap_end(wall: datetime, tz: ZoneInfo) -> datetime:
    """Return the first instant after the gap that swallows ``wall``.

    With fold=0 the reading is placed with the offset from before the jump
    (too late an instant), with fold=1 with the offset from after it (too
    early); the transition lies between the two, found by bisection on whole
    seconds, since zone transitions fall on whole seconds.
    """
    late = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    early = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if early > late:
        early, late = late, early

    after_offset = late.astimezone(tz).utcoffset()
    low, high = 0, int((late - early).total_seconds())
    while low < high:
        middle = (low + high) // 2
        probe = early + timedelta(seconds=middle)
        if probe.astimezone(tz).utcoffset() == after_offset:
            high = middle
        else:
            low = middle + 1

    return early + timedelta(seconds=low)


def to_instant(value: object) -> datetime:
    """Normalise a user's instant: aware ``datetime``, pandas ``Timestamp`` or ISO text.

    A naive value is taken as UTC.

    Raises:
        ValueError: the value is not an instant in one of those forms.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{text!r} is not an ISO-8601 instant such as '2024-03-25T12:30:00Z'"
            ) from None

    to_pydatetime = getattr(value, "to_pydatetime", None)
    if callable(to_pydatetime):
        value = to_pydatetime()

    if not isinstance(value, datetime):
        raise ValueError(
            f"expected a datetime, a pandas Timestamp or an ISO-8601 string, "
            f"got {value!r}"
        )

    instant = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    if not _FIRST_YEAR <= instant.astimezone(UTC).year <= _LAST_YEAR:
        raise ValueError(
            f"{instant.isoformat()} is out of range: instants must fall in the "
            f"years {_FIRST_YEAR} to {_LAST_YEAR}"
        )

    return instant.astimezone(UTC)


# Decisions look a year around the check and five years ahead of it, all of
# which must stay inside Python's calendar (years 1 to 9999).
_FIRST_YEAR, _LAST_YEAR = 2, 9990


def localize_many(walls: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """Return the instants (int64 UTC epoch seconds) of many wall-clock readings.

    The same policy as :func:`localize`, vectorised: a reading in a gap moves
    to the end of the gap, a reading in an overlap takes the earlier of its
    two instants (whichever of them the zone calls daylight time).
    """
    index = pd.DatetimeIndex(walls.astype("datetime64[s]"))
    if tz.key == "UTC":
        utc: np.ndarray = index.as_unit("s").asi8
        return utc

    as_dst = index.tz_localize(tz.key, ambiguous=True, nonexistent="NaT")
    as_std = index.tz_localize(tz.key, ambiguous=False, nonexistent="NaT")
    instants: np.ndarray = np.minimum(
        as_dst.as_unit("s").asi8, as_std.as_unit("s").asi8
    )

    # pandas' own "shift_forward" lands 30 minutes late in zones whose clocks
    # move by half an hour (Lord Howe), so readings in a gap, which are rare,
    # go through the scalar rule instead.
    in_gap = np.flatnonzero(as_dst.isna())
    for position in in_gap.tolist():
        wall = index[position].to_pydatetime()
        instants[position] = int(localize(wall, tz).timestamp())

    return instants


def walls_of(instants: np.ndarray, tz: ZoneInfo) -> pd.DatetimeIndex:
    """Return the local wall-clock readings of int64 UTC epoch seconds."""
    index = pd.DatetimeIndex(instants.astype("datetime64[s]")).tz_localize("UTC")
    local: pd.DatetimeIndex = index.tz_convert(tz.key)
    return local
