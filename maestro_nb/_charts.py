"""The summary page's charts, drawn as PNG bytes with matplotlib's Agg canvas.

Figures are built on their own canvas, never through ``pyplot``, so drawing
them leaves the caller's backend and open figures alone.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import matplotlib.dates as mdates
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = ["slot_usage_png", "timeline_png"]

_PRIMARY = "#0969da"
_DOWNSTREAM = "#8250df"
_DPI = 100


def timeline_png(
    sequence: pd.DataFrame, names: list[str], start: datetime, span: timedelta
) -> bytes:
    """Draw one row per pipeline with a mark at each of its runs in the window.

    Args:
        sequence: rows of ``pipe_name``, ``scheduled_time`` and ``is_primary``,
            as :meth:`Schedule.get_run_sequence` returns them.
        names: the pipelines to draw, top to bottom.
        start: the window's start (aware).
        span: the window's length.
    """
    figure = Figure(figsize=(10, 0.42 * len(names) + 1.3), dpi=_DPI)
    axes = figure.add_subplot()
    for row, name in enumerate(names):
        runs = sequence[sequence["pipe_name"] == name]
        times = _naive_utc(runs["scheduled_time"])
        colour = _PRIMARY if runs["is_primary"].all() else _DOWNSTREAM
        axes.scatter(times, [row] * len(times), marker="|", s=260, color=colour)

    axes.set_yticks(range(len(names)), labels=names)
    axes.set_ylim(len(names) - 0.5, -0.5)
    left, right = _naive_utc(pd.Series([start, start + span]))
    axes.set_xlim(left, right)
    _concise_dates(axes)
    axes.grid(axis="x", alpha=0.3)
    axes.set_xlabel("UTC")
    return _png(figure)


def slot_usage_png(usage: pd.DataFrame, interval: str) -> bytes:
    """Draw the number of runs in each recurring slot as bars.

    Args:
        usage: rows of ``slot`` and ``n_runs``, as :meth:`Schedule.get_slot_usage`
            returns them.
        interval: the slot interval's name, for the axis label.
    """
    figure = Figure(figsize=(10, 2.6), dpi=_DPI)
    axes = figure.add_subplot()
    labels = [str(slot) for slot in usage["slot"]]
    axes.bar(labels, usage["n_runs"], color=_PRIMARY)
    axes.set_xlabel(f"{interval} (UTC)")
    axes.set_ylabel("runs")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(axis="y", alpha=0.3)
    if len(labels) > 31:
        axes.set_xticks(labels[::5])

    return _png(figure)


def _naive_utc(times: pd.Series) -> pd.Series:
    """Return aware times as naive UTC ones, which matplotlib's date axis takes."""
    return pd.to_datetime(times, utc=True).dt.tz_localize(None)


def _concise_dates(axes: Axes) -> None:
    """Label a date axis briefly (hours within a day, days within a week)."""
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(formatter)


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
