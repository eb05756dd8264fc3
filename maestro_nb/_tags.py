"""Pipeline tags: the ``maestro`` object in a notebook's first-cell metadata.

:func:`parse_tags` turns that object into a validated :class:`PipelineSpec`,
or raises :class:`TagError` for every problem found at once. Each tag accepts
the reference implementation's string form (``"1 4 7"``) and, where it makes
sense, a JSON form (``[1, 4, 7]``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._conditions import check_run_if
from ._cycles import (
    WEEKDAYS,
    StartTime,
    build_series,
    check_start_fits,
    parse_start_time as _parse_start_time,
)
from ._exceptions import ConditionError, FrequencyError, TagError
from ._frequency import Frequency, parse_frequency
from ._localtime import zone
from ._timing import Filters, Timing

__all__ = ["PipelineSpec", "TAG_NAMES", "TagErrors", "parse_duration", "parse_tags"]

LOG_LEVELS = ("ERROR", "WARN", "INFO", "DEBUG")

TAG_NAMES = (
    "frequency",
    "startTime",
    "tz",
    "hours",
    "days",
    "months",
    "skip",
    "logLevel",
    "priority",
    "flags",
    "labels",
    "inputs",
    "outputs",
    "runIf",
    "map",
    "timeout",
    "retries",
    "retryDelay",
)

_COLLECT = re.compile(r"collect\((.*)\)", re.DOTALL)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")
_DURATION_UNITS = {
    "": 1,
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
}
_NAME_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class PipelineSpec:
    """One pipeline notebook, its tags validated and resolved."""

    name: str
    path: Path
    frequency: Frequency
    frequency_text: str
    start: StartTime
    tz_name: str
    timing: Timing
    skip: bool = False
    priority: int | None = None
    log_level: str = "INFO"
    flags: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    collect: bool = False
    outputs: tuple[str, ...] = ()
    run_if: str | None = None
    map_fields: tuple[str, ...] | None = None
    declared_parameters: frozenset[str] | None = None
    timeout: float | None = None
    retries: int | None = None
    retry_delay: float | None = None

    @property
    def tz(self) -> ZoneInfo:
        """The pipeline's zone."""
        return self.timing.tz

    @property
    def order_key(self) -> tuple[int, int, str]:
        """Run order: by priority (1 first), unprioritised last, then by name."""
        if self.priority is None:
            return (1, 0, self.name)

        return (0, self.priority, self.name)


class TagErrors(Exception):
    """Every :class:`TagError` found in one notebook (internal carrier)."""

    def __init__(self, errors: list[TagError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors))


def parse_tags(
    tags: object,
    *,
    name: str,
    path: Path,
    declared_parameters: frozenset[str] | None = None,
) -> PipelineSpec:
    """Validate a notebook's ``maestro`` object and resolve it into a spec.

    Raises:
        TagErrors: one :class:`TagError` per problem, each naming the file and tag.
    """
    if not isinstance(tags, dict):
        error = TagError(
            "the 'maestro' metadata must be a JSON object of tags, such as "
            '{"frequency": "1 day"}',
            path=path,
            tag="maestro",
            value=tags,
        )
        raise TagErrors([error])

    reader = _TagReader(tags, path)
    spec = reader.read(name, declared_parameters)
    if reader.errors or spec is None:
        raise TagErrors(reader.errors)

    return spec


class _TagReader:
    """Reads one notebook's tags, collecting every error instead of stopping."""

    def __init__(self, tags: dict[str, Any], path: Path) -> None:
        self.tags = tags
        self.path = path
        self.errors: list[TagError] = []

    def read(
        self, name: str, declared_parameters: frozenset[str] | None
    ) -> PipelineSpec | None:
        self._check_unknown_keys()
        frequency_text = self.tags.get("frequency", "1 day")
        frequency = self._get("frequency", parse_frequency, default=Frequency(1, "day"))
        start = self._get("startTime", _start_time, default=StartTime("none"))
        tz_name = self.tags.get("tz", "UTC")
        tz = self._get("tz", _time_zone, default=zone("UTC"))
        filters = self._filters(frequency)
        if frequency is not None and start is not None:
            self._check("startTime", lambda _: check_start_fits(start, frequency))

        inputs = self._get("inputs", _inputs, default=((), False))
        spec_fields = {
            "skip": self._get("skip", _skip, default=False),
            "priority": self._get("priority", _priority, default=None),
            "log_level": self._get("logLevel", _log_level, default="INFO"),
            "flags": self._get("flags", _words("flag"), default=()),
            "labels": self._get("labels", _labels, default={}),
            "inputs": inputs[0] if inputs else (),
            "collect": inputs[1] if inputs else False,
            "outputs": self._get("outputs", _words("pipeline name"), default=()),
            "run_if": self._get("runIf", _run_if, default=None),
            "map_fields": self._get("map", _map_fields, default=None),
            "timeout": self._get("timeout", parse_duration, default=None),
            "retries": self._get("retries", _retries, default=None),
            "retry_delay": self._get("retryDelay", _delay, default=None),
        }
        if self.errors or frequency is None or start is None or tz is None:
            return None

        timing = Timing(build_series(frequency, start, tz), tz, filters or Filters())
        return PipelineSpec(
            name=name,
            path=self.path,
            frequency=frequency,
            frequency_text=str(frequency_text).strip(),
            start=start,
            tz_name=str(tz_name),
            timing=timing,
            declared_parameters=declared_parameters,
            **spec_fields,
        )

    def _check_unknown_keys(self) -> None:
        for key in self.tags:
            if key in TAG_NAMES:
                continue

            close = difflib.get_close_matches(key, TAG_NAMES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            self.errors.append(
                TagError(
                    f"unknown tag; {hint}valid tags: {', '.join(TAG_NAMES)}",
                    path=self.path,
                    tag=key,
                    value=self.tags[key],
                )
            )

    def _get(self, tag: str, parse: Callable[[Any], Any], *, default: Any) -> Any:
        """Parse one tag, or record its error and return None."""
        if tag not in self.tags:
            return default

        value = self.tags[tag]
        try:
            return parse(value)
        except (ValueError, TypeError) as error:
            reason = error.reason if isinstance(error, FrequencyError) else str(error)
            self.errors.append(TagError(reason, path=self.path, tag=tag, value=value))
            return None

    def _check(self, tag: str, check: Callable[[Any], None]) -> None:
        self._get(tag, check, default=None)

    def _filters(self, frequency: Frequency | None) -> Filters | None:
        hours = self._get("hours", _integers("hour", 0, 23), default=frozenset())
        days = self._get("days", _days, default=(frozenset(), frozenset()))
        months = self._get("months", _integers("month", 1, 12), default=frozenset())
        if frequency is not None:
            self._check_filter_units(frequency)

        if hours is None or days is None or months is None:
            return None

        return Filters(hours=hours, weekdays=days[0], month_days=days[1], months=months)

    def _check_filter_units(self, frequency: Frequency) -> None:
        """Filters only make sense with frequencies finer than what they filter."""

        def needs(allowed: bool, what: str) -> Callable[[Any], None]:
            def check(_: Any) -> None:
                if not allowed:
                    raise ValueError(f"{what} (the frequency is {frequency})")

            return check

        unit = frequency.unit
        if "hours" in self.tags:
            sub_daily = frequency.is_sub_daily
            self._check(
                "hours",
                needs(
                    sub_daily,
                    "an hours filter needs a sub-daily "
                    "frequency (seconds, minutes or hours)",
                ),
            )
        if "days" in self.tags:
            daily = frequency.is_sub_daily or unit == "day"
            self._check(
                "days",
                needs(
                    daily,
                    "a days filter needs a daily or "
                    "faster frequency (N days or sub-daily)",
                ),
            )
        if "months" in self.tags:
            self._check(
                "months",
                needs(
                    unit != "year",
                    "a months filter needs a monthly or faster frequency (not years)",
                ),
            )


def _start_time(value: object) -> StartTime:
    if value is None:
        return StartTime("none")

    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")

    return _parse_start_time(value)


def _time_zone(value: object) -> ZoneInfo:
    if not isinstance(value, str) or not value:
        raise TypeError("expected an IANA time zone name such as 'America/Halifax'")

    try:
        return zone(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            "unknown time zone; expected an IANA name such as 'Europe/Paris' "
            "or 'UTC' (names are case-sensitive)"
        ) from None


def _items(value: object, what: str) -> list[object]:
    """Split the string form on whitespace; pass the JSON list form through."""
    if isinstance(value, str):
        return list(value.split())

    if isinstance(value, list):
        return list(value)

    if isinstance(value, int) and not isinstance(value, bool):
        return [value]

    raise TypeError(f"expected a space-separated string or a list of {what}s")


def _as_int(item: object, what: str) -> int:
    if isinstance(item, bool):
        raise ValueError(f"{what} {item!r} is not an integer")

    if isinstance(item, int):
        return item

    if isinstance(item, str) and re.fullmatch(r"[+-]?\d+", item):
        return int(item)

    raise ValueError(f"{what} {item!r} is not an integer")


def _integers(what: str, low: int, high: int) -> Callable[[object], frozenset[int]]:
    def parse(value: object) -> frozenset[int]:
        numbers = [_as_int(item, what) for item in _items(value, what)]
        for number in numbers:
            if not low <= number <= high:
                raise ValueError(f"{what} {number} is out of range ({low} to {high})")

        if not numbers:
            raise ValueError(f"expected at least one {what} ({low} to {high})")

        return frozenset(numbers)

    return parse


def _days(value: object) -> tuple[frozenset[int], frozenset[int]]:
    """Parse weekday names or month days (never both) into two sets."""
    items = _items(value, "day")
    names = [item for item in items if isinstance(item, str) and item.isalpha()]
    if names and len(names) != len(items):
        raise ValueError(
            "mixes weekday names and days of the month; use one kind, "
            "such as 'Mon Wed' or '1 15'"
        )

    if names:
        unknown = [name for name in names if name not in WEEKDAYS]
        if unknown:
            raise ValueError(
                f"weekday {unknown[0]!r} must be a three-letter abbreviation, "
                f"one of {', '.join(WEEKDAYS)}"
            )

        return frozenset(WEEKDAYS.index(name) for name in names), frozenset()

    return frozenset(), _integers("day of month", 1, 31)(items)


def _skip(value: object) -> bool:
    if isinstance(value, bool):
        return value

    if value in ("", "true"):
        return True

    if value == "false":
        return False

    raise ValueError('expected the bare tag "", "true" or "false" (or a JSON boolean)')


def _priority(value: object) -> int:
    number = _as_int(value, "priority")
    if number < 1:
        raise ValueError("priority must be a positive integer (1 runs first)")

    return number


def _log_level(value: object) -> str:
    if not isinstance(value, str) or value.upper() not in (*LOG_LEVELS, "WARNING"):
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")

    level = value.upper()
    return "WARN" if level == "WARNING" else level


def _words(what: str) -> Callable[[object], tuple[str, ...]]:
    def parse(value: object) -> tuple[str, ...]:
        items = _items(value, what)
        if not all(isinstance(item, str) and item for item in items):
            raise ValueError(f"every {what} must be a non-empty string")

        return tuple(str(item) for item in items)

    return parse


def _labels(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError('expected a JSON object such as {"owner": "data-team"}')

    return {key: str(item) for key, item in value.items()}


def _inputs(value: object) -> tuple[tuple[str, ...], bool]:
    """Parse ``"a b"``, ``["a"]`` or ``"collect(a, b)"`` into names and fan-in."""
    text = " ".join(value) if isinstance(value, list) else value
    if not isinstance(text, str):
        raise TypeError("expected pipeline names as a string or a list of strings")

    match = _COLLECT.fullmatch(text.strip())
    body = match.group(1) if match else text
    names = tuple(name for name in _NAME_SEPARATORS.split(body) if name)
    if not names:
        raise ValueError("expected at least one upstream pipeline name")

    return names, match is not None


def _run_if(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TypeError("expected a Python expression as a string")

    try:
        check_run_if(value.strip())
    except ConditionError as error:
        raise ValueError(error.reason) from None

    return value.strip()


def _map_fields(value: object) -> tuple[str, ...]:
    items = _items(value, "field name")
    if not all(isinstance(item, str) and item.isidentifier() for item in items):
        raise ValueError("field names must be identifiers, such as 'ids labels'")

    return tuple(str(item) for item in items)


def parse_duration(value: object) -> float:
    """Turn ``"10 minutes"``, ``"30 seconds"`` or a number of seconds into seconds.

    Raises:
        ValueError: not a positive number of seconds, minutes or hours.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        seconds = _duration_text(value)

    if not seconds > 0 or seconds == float("inf"):
        raise ValueError("a duration must be a positive number of seconds")

    return seconds


def _duration_text(value: object) -> float:
    text = value.strip().lower() if isinstance(value, str) else ""
    match = _DURATION.fullmatch(text)
    if match is None or match.group(2) not in _DURATION_UNITS:
        raise ValueError(
            "expected a duration such as '10 minutes', '30 seconds', '2 hours' "
            "or a number of seconds"
        )

    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _retries(value: object) -> int:
    number = _as_int(value, "retries")
    if not 0 <= number <= 10:
        raise ValueError("retries must be an integer from 0 to 10")

    return number


def _delay(value: object) -> float:
    if value in (0, "0"):
        return 0.0

    return parse_duration(value)
