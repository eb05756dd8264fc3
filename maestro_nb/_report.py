"""The summary page of an orchestrator run, as one self-contained HTML fragment.

The page holds a headline (check time, frequency, counts, duration), the run
table, the failures, the next runs with a timeline chart, the slot usage chart
and the build errors. It loads nothing from elsewhere: styles are inline
attributes (JupyterLab keeps them in untrusted outputs, where it drops
``<style>`` blocks), charts are base64 PNGs drawn with matplotlib's Agg canvas,
and every piece of user text goes through :func:`html.escape`. The same
fragment reads in JupyterLab, in ``jupyter nbconvert --to html`` and on Posit
Connect, which renders notebooks with nbconvert.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._clock import resolve_check_datetime
from ._frequency import Frequency, parse_orch_frequency
from ._status import FAILURE_STATES

if TYPE_CHECKING:
    from ._schedule import Schedule
    from ._status import RunRecord, RunReport

__all__ = ["Summary", "capture_warnings", "report"]

PACKAGE_LOGGER = "maestro_nb"
HORIZONS = {"24 hours": timedelta(hours=24), "7 days": timedelta(days=7)}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class StatusLook:
    """How a run state is shown: a symbol and a word, so colour is never alone."""

    symbol: str
    label: str
    colour: str


STATUS_LOOKS = {
    "completed": StatusLook("\u2714", "succeeded", "#1a7f37"),
    "failed": StatusLook("\u2716", "failed", "#cf222e"),
    "kernel_died": StatusLook("\u2716", "kernel died", "#cf222e"),
    "timed_out": StatusLook("\u29d7", "timed out", "#cf222e"),
    "interrupted": StatusLook("\u25a0", "interrupted", "#cf222e"),
    "already_claimed": StatusLook("\u21b7", "already claimed", "#57606a"),
    "skipped": StatusLook("\u23ed", "skipped", "#9a6700"),
    "not_due": StatusLook("\u25cb", "not due", "#57606a"),
    "pending": StatusLook("\u2026", "pending", "#57606a"),
    "running": StatusLook("\u25b6", "running", "#0969da"),
}
_OTHER_LOOK = StatusLook("\u2022", "", "#57606a")

# Inline styles: JupyterLab strips <style> blocks from untrusted outputs.
_PAGE = (
    "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "line-height:1.45;max-width:1100px"
)
_TABLE = "border-collapse:collapse;margin:0.3em 0 1em;font-size:0.92em"
_TH = "text-align:left;padding:4px 10px;border-bottom:2px solid #8c959f"
_TD = "text-align:left;padding:4px 10px;border-bottom:1px solid #d0d7de"
_PRE = (
    "white-space:pre-wrap;font-size:0.85em;padding:6px 8px;margin:0.3em 0;"
    "border-left:3px solid #8c959f;background:rgba(127,127,127,0.08)"
)
_H2 = "margin:1.2em 0 0.3em;font-size:1.2em"
_MUTED = "opacity:0.75"


class Summary:
    """The summary page of a schedule and its last run.

    Display it in a notebook (it has ``_repr_html_``), read its markup from
    :attr:`html`, or write a standalone page with :meth:`save`.

    Args:
        schedule: the schedule, usually after :func:`run_schedule`.
        orch_frequency: the orchestrator's frequency; default the last run's,
            else ``"1 day"``.
        n_show_next: how many upcoming runs to list per pipeline.
        horizon: the timeline's span: ``"24 hours"``, ``"7 days"`` or
            ``"auto"`` (24 hours when a pipeline runs more than once in them).
        link_base: the folder links to executed notebooks are relative to;
            default the working directory. Notebooks outside it are named,
            not linked, since a page cannot reach them.
        title: the page's heading.
        notes: warnings to show at the top, as :func:`capture_warnings`
            collects them.
    """

    def __init__(
        self,
        schedule: Schedule,
        *,
        orch_frequency: str | None = None,
        n_show_next: int = 5,
        horizon: str = "auto",
        link_base: str | os.PathLike[str] | None = None,
        title: str = "Orchestrator summary",
        notes: Iterable[str] = (),
    ) -> None:
        if horizon != "auto" and horizon not in HORIZONS:
            raise ValueError(
                f"horizon must be 'auto', '24 hours' or '7 days', not {horizon!r}"
            )

        run = schedule.last_run
        self.schedule = schedule
        self.run: RunReport | None = run
        self.orch_frequency = orch_frequency or (run.orch_frequency if run else "1 day")
        self.check = run.check_datetime if run else resolve_check_datetime(None)
        self.n_show_next = n_show_next
        self.horizon = horizon
        self.link_base = Path(link_base) if link_base is not None else Path.cwd()
        self.title = title
        self.notes = list(notes)

    @property
    def records(self) -> list[RunRecord]:
        """The last run's records, in run order (empty before any run)."""
        return list(self.run.records) if self.run else []

    @property
    def html(self) -> str:
        """The page as an HTML fragment, links relative to ``link_base``."""
        return self.render(self.link_base)

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        lines = [headline_text(self)]
        lines.extend(f"  {_record_line(record)}" for record in self.records)
        return "\n".join(lines)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page as a complete HTML document, links relative to its folder.

        Returns:
            The path written.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        document = (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_e(self.title)}</title>\n</head>\n<body>\n"
            f"{self.render(target.parent.resolve())}\n</body>\n</html>\n"
        )
        target.write_text(document, encoding="utf-8")
        return target

    def render(self, link_base: Path) -> str:
        """Return the page as an HTML fragment, links relative to ``link_base``."""
        sections = [
            f'<h1 style="font-size:1.5em;margin:0.2em 0">{_e(self.title)}</h1>',
            headline_html(self),
            notes_html(self.notes),
            run_table_html(self.records, link_base),
            failures_html(self.records),
            next_runs_html(self.next_runs),
            self.timeline_html,
            self.slot_usage_html,
            build_errors_html(self.schedule.last_build_errors(), link_base),
        ]
        body = "\n".join(section for section in sections if section)
        return f'<div class="maestro-summary" style="{_PAGE}">\n{body}\n</div>'

    @cached_property
    def next_runs(self) -> pd.DataFrame:
        """The next ``n_show_next`` cycle points of each pipeline that runs."""
        return self.schedule.get_run_sequence(
            n=self.n_show_next, min_datetime=self.check, include_skipped=False
        )

    @cached_property
    def timeline_html(self) -> str:
        """The timeline chart of the coming runs, as an ``<img>`` section."""
        from ._charts import timeline_png

        span = self._span()
        sequence = self.schedule.get_run_sequence(
            min_datetime=self.check,
            max_datetime=self.check + HORIZONS[span],
            include_skipped=False,
        )
        names = [n for n, s in self.schedule.pipelines.items() if not s.skip]
        if not names:
            return ""

        png = timeline_png(sequence, names, self.check, HORIZONS[span])
        return _figure(f"Runs in the next {span} (UTC)", png, f"Timeline of {span}")

    @cached_property
    def slot_usage_html(self) -> str:
        """The slot usage chart, as an ``<img>`` section."""
        from ._charts import slot_usage_png

        if not self.schedule.pipelines:
            return ""

        interval = slot_interval_for(parse_orch_frequency(self.orch_frequency))
        usage = self.schedule.get_slot_usage(self.orch_frequency, interval)
        png = slot_usage_png(usage, interval)
        caption = f"Slot usage: runs per {interval} (UTC), from the check on"
        return _figure(caption, png, f"Runs per {interval}")

    def _span(self) -> str:
        if self.horizon != "auto":
            return self.horizon

        day = self.schedule.get_run_sequence(
            min_datetime=self.check,
            max_datetime=self.check + HORIZONS["24 hours"],
            include_skipped=False,
        )
        busiest = day["pipe_name"].value_counts().max() if len(day) else 0
        return "24 hours" if busiest > 1 else "7 days"


def report(
    schedule: Schedule,
    *,
    orch_frequency: str | None = None,
    n_show_next: int = 5,
    horizon: str = "auto",
    link_base: str | os.PathLike[str] | None = None,
    title: str = "Orchestrator summary",
    notes: Iterable[str] = (),
) -> Summary:
    """Return the summary page of a schedule and its last run (see :class:`Summary`).

    Display the result in a notebook, or ``.save("runs/summary.html")`` it.
    """
    return Summary(
        schedule,
        orch_frequency=orch_frequency,
        n_show_next=n_show_next,
        horizon=horizon,
        link_base=link_base,
        title=title,
        notes=notes,
    )


@contextmanager
def capture_warnings() -> Iterator[list[str]]:
    """Collect maestro_nb's warnings while the block runs, for the summary page.

    Records at WARNING (a coarse orchestrator frequency, outputs that will not
    persist) are collected; errors are left out, as the page shows build
    errors and failures itself. While the block runs, nothing of maestro_nb's
    reaches Python's last-resort handler, which would print it above the page.

    Yields:
        The messages, filled in as they are logged.
    """
    notes: list[str] = []
    handler = _NoteHandler(notes)
    package_logger = logging.getLogger(PACKAGE_LOGGER)
    package_logger.addHandler(handler)
    try:
        yield notes
    finally:
        package_logger.removeHandler(handler)


class _NoteHandler(logging.Handler):
    def __init__(self, notes: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.notes = notes

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING:
            self.notes.append(record.getMessage())


def notes_html(notes: list[str]) -> str:
    """Return the warnings of the run, each marked with a symbol."""
    if not notes:
        return ""

    items = "".join(f"<li>\u26a0 {_e(note)}</li>" for note in dict.fromkeys(notes))
    style = (
        "margin:0.4em 0;padding:0.4em 0.8em 0.4em 1.8em;border-left:4px solid #9a6700"
    )
    return f'<ul class="maestro-notes" style="{style}">{items}</ul>'


def slot_interval_for(orch_frequency: Frequency) -> str:
    """Pick the slot interval that spreads an orchestrator's runs the most."""
    if orch_frequency.unit == "second":
        return "minute"

    if orch_frequency.unit in ("minute", "hour"):
        return "hour"

    if orch_frequency.unit in ("day", "week"):
        return "weekday"

    return "month"


def status_look(state: str) -> StatusLook:
    """Return how a state is shown; an unknown one keeps its own name."""
    return STATUS_LOOKS.get(state, StatusLook(_OTHER_LOOK.symbol, state, "#57606a"))


def counts(records: Iterable[RunRecord]) -> dict[str, int]:
    """Count runs by how they ended: succeeded, failed, skipped, not due."""
    states = [record.state.value for record in records if not record.retried]
    return {
        "succeeded": states.count("completed"),
        "failed": sum(state in FAILURE_STATES for state in states),
        # A condition (``runIf``) or the skip tag: anything named skipped.
        "skipped": sum(state.startswith("skipped") for state in states),
        "not due": states.count("not_due"),
    }


def total_duration(records: Iterable[RunRecord]) -> float | None:
    """Return the seconds from the first start to the last end, if anything ran."""
    starts = [r.started for r in records if r.started is not None]
    ends = [r.ended for r in records if r.ended is not None]
    if not starts or not ends:
        return None

    return (max(ends) - min(starts)).total_seconds()


def headline_text(summary: Summary) -> str:
    """Return the headline as one line of plain text."""
    if summary.run is None:
        return f"maestro_nb: not run yet; {len(summary.schedule)} pipelines scheduled"

    tally = ", ".join(f"{n} {word}" for word, n in counts(summary.records).items())
    return (
        f"maestro_nb: checked {_when(summary.check)} UTC "
        f"(orch_frequency {summary.orch_frequency!r}): {tally}; "
        f"took {_seconds(total_duration(summary.records))}"
    )


def headline_html(summary: Summary) -> str:
    """Return the headline: check time, frequency, counts and duration."""
    facts = [
        ("Checked", f"{_when(summary.check)} UTC"),
        ("Orchestrator frequency", summary.orch_frequency),
    ]
    if summary.run is None:
        facts.append(("Runs", "none yet"))
    else:
        facts.extend((word, str(n)) for word, n in counts(summary.records).items())
        facts.append(("Total duration", _seconds(total_duration(summary.records))))

    cells = "".join(
        '<div style="display:inline-block;margin:0 1.6em 0.4em 0">'
        f'<div style="font-size:0.8em;{_MUTED}">{_e(label.capitalize())}</div>'
        f'<div style="font-size:1.15em;font-weight:600">{_e(value)}</div></div>'
        for label, value in facts
    )
    return f'<div class="maestro-headline">{cells}</div>'


def run_table_html(records: list[RunRecord], link_base: Path) -> str:
    """Return the run table: one row per pipeline of the last run."""
    if not records:
        return ""

    header = (
        "Pipeline",
        "Status",
        "Started (UTC)",
        "Duration",
        "Run id",
        "Lineage",
        "Executed notebook",
    )
    rows = [
        (
            _e(record.label),
            status_badge(record.state.value),
            _nowrap(_when(record.started, seconds=True) if record.started else ""),
            _nowrap(_seconds(record.duration) if record.duration is not None else ""),
            f"<code>{_e(record.run_id or '')}</code>",
            _nowrap(lineage_text(record)),
            notebook_link(record.output_notebook, link_base),
        )
        for record in records
    ]
    return _section("Runs", _table(header, rows, "maestro-runs"))


def status_badge(state: str) -> str:
    """Return a state as a coloured badge holding a symbol and a word."""
    look = status_look(state)
    style = (
        f"color:#fff;background:{look.colour};border-radius:3px;"
        "padding:1px 7px;white-space:nowrap;font-weight:600"
    )
    return (
        f'<span class="maestro-status maestro-{_e(state)}" style="{style}">'
        f"{look.symbol} {_e(look.label)}</span>"
    )


def lineage_text(record: RunRecord) -> str:
    """Return a DAG run's lineage (upstream runs first), if the record has one."""
    lineage = getattr(record, "lineage", None)
    if lineage is None or lineage == record.pipe_name:
        return ""

    if isinstance(lineage, str):
        return lineage.replace("->", " \u2192 ")

    if isinstance(lineage, Iterable):
        return " \u2192 ".join(str(step) for step in lineage)

    return str(lineage)


def notebook_link(notebook: Path | None, link_base: Path) -> str:
    """Link to an executed notebook when the page can reach it, else name it."""
    if notebook is None:
        return ""

    target = Path(notebook).resolve()
    base = link_base.resolve()
    if not target.is_relative_to(base):
        return f"<code>{_e(str(target))}</code>"

    relative = target.relative_to(base).as_posix()
    return f'<a href="{_e(relative)}">{_e(relative)}</a>'


def failures_html(records: list[RunRecord]) -> str:
    """Return one collapsed block per failed run: error, failing cell, traceback."""
    blocks = [failure_html(r) for r in records if r.error is not None]
    return _section("Failures", "\n".join(blocks)) if blocks else ""


def failure_html(record: RunRecord) -> str:
    """Return a failed run's error, failing cell source and traceback."""
    error = record.error
    assert error is not None
    where = f" (cell {error.cell_index})" if error.cell_index is not None else ""
    source = failing_cell_source(error.output_notebook, error.cell_index)
    traceback = _ANSI.sub("", "\n".join(error.traceback))
    parts = [
        f"<summary><b>{_e(record.label)}</b>: "
        f"<code>{_e(error.ename)}</code>: {_e(error.evalue)}{_e(where)}</summary>"
    ]
    if source is not None:
        parts.append(f"<div>Failing cell:</div><pre style='{_PRE}'>{_e(source)}</pre>")

    if traceback:
        parts.append(f"<div>Traceback:</div><pre style='{_PRE}'>{_e(traceback)}</pre>")

    return f'<details class="maestro-failure">{"".join(parts)}</details>'


def failing_cell_source(notebook: Path | None, cell_index: int | None) -> str | None:
    """Return the source of a cell of an executed notebook, if it can be read."""
    if notebook is None or cell_index is None:
        return None

    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
        source = cells[cell_index]["source"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None

    return "".join(source) if isinstance(source, list) else str(source)


def next_runs_html(sequence: pd.DataFrame) -> str:
    """Return the next runs, one row per pipeline, soonest pipeline first."""
    if sequence.empty:
        return _section("Next runs", "<p>No run is scheduled.</p>")

    rows = []
    grouped = sequence.groupby("pipe_name", observed=True, sort=False)
    for name, group in grouped:
        times = ", ".join(_when(t) for t in group["scheduled_time"])
        after = "" if group["is_primary"].all() else " (after its upstream)"
        rows.append((_e(f"{name}{after}"), _e(times)))

    table = _table(("Pipeline", "Next runs (UTC)"), rows, "maestro-next")
    return _section("Next runs", table)


def build_errors_html(errors: pd.DataFrame, link_base: Path) -> str:
    """Return the build errors: the notebook and the tag at fault, and why."""
    if errors.empty:
        return ""

    header = ("Notebook", "Tag", "Value", "Problem")
    rows = [
        (
            f"<code>{_e(_shown_path(Path(str(row.notebook)), link_base))}</code>",
            _e(row.tag) if row.tag is not None else "(whole notebook)",
            _e(repr(row.value)) if row.tag is not None else "",
            _e(_reason(str(row.message), str(row.notebook), row.tag, row.value)),
        )
        for row in errors.itertuples(index=False)
    ]
    return _section("Build errors", _table(header, rows, "maestro-build-errors"))


def _shown_path(path: Path, link_base: Path) -> str:
    target = path.resolve()
    base = link_base.resolve()
    return (
        target.relative_to(base).as_posix()
        if target.is_relative_to(base)
        else str(path)
    )


def _reason(message: str, notebook: str, tag: object, value: object) -> str:
    """Drop what the other columns already say from the front of a build error."""
    for prefix in (f"{notebook}: ", f"tag {tag!r} = {value!r}: "):
        message = message.removeprefix(prefix)

    return message


def _record_line(record: RunRecord) -> str:
    look = status_look(record.state.value)
    duration = _seconds(record.duration) if record.duration is not None else ""
    line = f"{look.symbol} {look.label:<9} {record.label}  {duration}".rstrip()
    if record.error is not None:
        line += f"  ({record.error.ename}: {record.error.evalue})"

    return line


def _figure(caption: str, png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    image = (
        f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}" '
        'style="max-width:100%;height:auto">'
    )
    return _section(caption, f'<div class="maestro-chart">{image}</div>')


def _section(title: str, body: str) -> str:
    return f'<h2 style="{_H2}">{_e(title)}</h2>\n{body}'


def _table(header: Iterable[str], rows: Iterable[Iterable[str]], name: str) -> str:
    """Return a table; header words are escaped here, cells must already be."""
    head = "".join(f'<th style="{_TH}">{_e(cell)}</th>' for cell in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_TD}">{cell}</td>' for cell in row) + "</tr>"
        for row in rows
    )
    return (
        f'<table class="{name}" style="{_TABLE}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _nowrap(text: str) -> str:
    return f'<span style="white-space:nowrap">{_e(text)}</span>'


def _when(instant: datetime | pd.Timestamp, seconds: bool = False) -> str:
    shown = pd.Timestamp(instant).tz_convert("UTC")
    return str(shown.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"))


def _seconds(value: float | None) -> str:
    if value is None:
        return "\u2013"

    if value < 120:
        return f"{value:.1f} s"

    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s"
