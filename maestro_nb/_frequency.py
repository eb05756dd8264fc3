"""Frequencies: ``"15 minutes"``, ``"2 weeks"``, ``"daily"`` and the rest.

A frequency is an amount and a unit. Seconds, minutes and hours are *sub-daily*
units, stepped in elapsed time; days, weeks, months and years are *calendar*
units, stepped on the local calendar. A quarter is three months. The
orchestrator's frequency uses the same grammar but must also be a unit that
time can be rounded to (see :func:`parse_orch_frequency`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ._exceptions import FrequencyError

__all__ = ["Frequency", "parse_frequency", "parse_orch_frequency"]

Unit = Literal["second", "minute", "hour", "day", "week", "month", "year"]

SUB_DAILY_UNITS: frozenset[str] = frozenset({"second", "minute", "hour"})
UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600}

_UNIT_WORDS: dict[str, tuple[Unit, int]] = {
    "second": ("second", 1),
    "sec": ("second", 1),
    "minute": ("minute", 1),
    "min": ("minute", 1),
    "hour": ("hour", 1),
    "hr": ("hour", 1),
    "day": ("day", 1),
    "week": ("week", 1),
    "month": ("month", 1),
    "quarter": ("month", 3),
    "year": ("year", 1),
}

_ADVERBS: dict[str, tuple[int, Unit]] = {
    "hourly": (1, "hour"),
    "daily": (1, "day"),
    "weekly": (1, "week"),
    "biweekly": (2, "week"),
    "monthly": (1, "month"),
    "quarterly": (3, "month"),
    "yearly": (1, "year"),
}

_AMOUNT_UNIT = re.compile(r"(\d+)\s+([A-Za-z]+)")

VALID_FORMS = (
    "'N unit' with N a positive integer and unit one of second, minute, hour, "
    "day, week, month, quarter, year (singular or plural; sec, min, hr too), "
    "or one of hourly, daily, weekly, biweekly, monthly, quarterly, yearly"
)

# The largest amount of each unit that the orchestrator's clock can be rounded
# to; weeks and years round only as a single unit.
_ROUNDING_LIMITS: dict[str, int] = {
    "second": 60,
    "minute": 60,
    "hour": 24,
    "day": 31,
    "week": 1,
    "month": 12,
    "year": 1,
}


@dataclass(frozen=True)
class Frequency:
    """An amount of a unit, such as 15 minutes or 2 weeks."""

    amount: int
    unit: Unit

    @property
    def is_sub_daily(self) -> bool:
        """Whether the unit is stepped in elapsed time (seconds to hours)."""
        return self.unit in SUB_DAILY_UNITS

    @property
    def seconds(self) -> int:
        """Length in seconds; only defined for sub-daily units."""
        return self.amount * UNIT_SECONDS[self.unit]

    @property
    def months(self) -> int:
        """Length in months; only defined for month and year units."""
        return self.amount * (12 if self.unit == "year" else 1)

    @property
    def days(self) -> int:
        """Length in days; only defined for day and week units."""
        return self.amount * (7 if self.unit == "week" else 1)

    def __str__(self) -> str:
        plural = "" if self.amount == 1 else "s"
        return f"{self.amount} {self.unit}{plural}"


def parse_frequency(text: object) -> Frequency:
    """Parse a pipeline frequency such as ``"15 minutes"`` or ``"weekly"``.

    Raises:
        FrequencyError: the text is not one of the valid forms.
    """
    if not isinstance(text, str):
        raise FrequencyError(text, f"expected a string, {VALID_FORMS}")

    stripped = text.strip()
    adverb = _ADVERBS.get(stripped.lower())
    if adverb is not None:
        return Frequency(*adverb)

    match = _AMOUNT_UNIT.fullmatch(stripped)
    if match is None:
        raise FrequencyError(text, f"expected {VALID_FORMS}")

    amount = int(match.group(1))
    unit = _unit_from_word(text, match.group(2))
    if amount == 0:
        raise FrequencyError(text, "the amount must be a positive integer")

    return Frequency(amount * unit[1], unit[0])


def parse_orch_frequency(text: object) -> Frequency:
    """Parse the orchestrator's frequency, which must be a rounding unit.

    Valid: at most 60 seconds, 60 minutes, 24 hours, 31 days or 12 months
    (4 quarters), or exactly 1 week or 1 year.

    Raises:
        FrequencyError: the text is not a frequency or not a rounding unit.
    """
    frequency = parse_frequency(text)
    limit = _ROUNDING_LIMITS[frequency.unit]
    if frequency.amount <= limit:
        return frequency

    if limit == 1:
        reason = f"only 1 {frequency.unit} is a rounding unit for the orchestrator"
    else:
        reason = (
            f"more than {limit} {frequency.unit}s cannot be a rounding unit for the "
            f"orchestrator (use at most {limit} {frequency.unit}s)"
        )

    raise FrequencyError(text, reason)


def _unit_from_word(text: str, word: str) -> tuple[Unit, int]:
    """Map a unit word, singular or plural, to its unit and multiplier."""
    lowered = word.lower()
    singular = lowered[:-1] if lowered.endswith("s") else lowered
    unit = _UNIT_WORDS.get(lowered) or _UNIT_WORDS.get(singular)
    if unit is None:
        raise FrequencyError(text, f"unknown unit {word!r}; expected {VALID_FORMS}")

    return unit
