"""Showing a run move: done/total, what is running now, time elapsed.

Where the run is watched decides how it is shown:

* ``terminal``: standard output is a terminal; one status line is redrawn in
  place and each finished run is printed above it;
* ``notebook``: a Jupyter kernel with a person at the frontend; one display
  is updated in place (an IPython display handle, no widgets);
* ``plain``: anything else (cron, a pipe, a notebook executed by papermill,
  nbconvert or Posit Connect); one line per finished run, nothing redrawn.

A kernel is taken to have a person at its frontend when the cell running now
may ask for input: interactive frontends allow it, while nbclient (under
papermill, nbconvert and Connect) never does. ``MAESTRO_PROGRESS`` set to
one of the mode names (or ``off``) overrides the choice.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from ._frequency import Frequency, parse_orch_frequency
from ._status import RunRecord

if TYPE_CHECKING:
    from ._schedule import Schedule

__all__ = ["PROGRESS_ENV", "Progress", "progress_mode", "warn_if_too_coarse"]

logger = logging.getLogger(__name__)

PROGRESS_ENV = "MAESTRO_PROGRESS"
MODES = ("terminal", "notebook", "plain", "off")
REDRAW_SECONDS = 0.5
_CLEAR_LINE = "\r\x1b[K"
# Rough lengths of calendar units, only to compare frequencies.
_APPROX_SECONDS = {"day": 86_400, "week": 604_800, "month": 2_629_746}
_APPROX_SECONDS["year"] = 12 * _APPROX_SECONDS["month"]

T = TypeVar("T")


def progress_mode(quiet: bool = False, stream: TextIO | None = None) -> str:
    """Return how a run is shown here: terminal, notebook, plain or off."""
    chosen = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if quiet:
        return "off"

    if chosen in MODES:
        return chosen

    if _has_interactive_frontend():
        return "notebook"

    out = stream if stream is not None else sys.stdout
    is_tty = getattr(out, "isatty", None)
    return "terminal" if callable(is_tty) and is_tty() else "plain"


def _has_interactive_frontend() -> bool:
    """Whether this is a Jupyter kernel whose current cell may ask for input."""
    ipython_module = sys.modules.get("IPython")
    get_ipython = getattr(ipython_module, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    kernel = getattr(shell, "kernel", None)
    return bool(getattr(kernel, "_allow_stdin", False))


class Progress:
    """The progress display of one run; safe to call from worker threads.

    Args:
        total: how many pipelines the run will start.
        mode: one of :data:`MODES` (see :func:`progress_mode`).
        stream: where terminal and plain lines go (standard output).
    """

    def __init__(self, total: int, mode: str, stream: TextIO | None = None) -> None:
        self.total = total
        self.mode = mode if total > 0 else "off"
        self.stream = stream if stream is not None else sys.stdout
        self.done = 0
        self.running: list[str] = []
        self.finished_lines: list[str] = []
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._handle: Any = None
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.mode in ("terminal", "notebook"):
            self._handle = self._open_display() if self.mode == "notebook" else None
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closed.set()
        if self._ticker is not None:
            self._ticker.join()

        with self._lock:
            if self.mode == "terminal":
                self._write(_CLEAR_LINE)
            elif self.mode == "notebook":
                self._redraw()

    def track(self, name: str, work: Callable[..., T]) -> Callable[..., T]:
        """Return ``work`` wrapped so that its start shows ``name`` as running."""

        def tracked(*args: Any, **kwargs: Any) -> T:
            with self._lock:
                self.running.append(name)
                self._redraw()

            return work(*args, **kwargs)

        return tracked

    def finished(self, record: RunRecord) -> None:
        """Show that a pipeline's run ended, and how."""
        with self._lock:
            self.done += 1
            if record.pipe_name in self.running:
                self.running.remove(record.pipe_name)

            line = self._finished_line(record)
            self.finished_lines.append(line)
            if self.mode == "plain":
                self._write(line + "\n")
            elif self.mode == "terminal":
                self._write(f"{_CLEAR_LINE}{line}\n")

            self._redraw()

    def status_line(self) -> str:
        """Return ``done/total``, what runs now and the time elapsed."""
        elapsed = int(time.monotonic() - self._start)
        running = ", ".join(self.running) if self.running else "-"
        return (
            f"maestro_nb: {self.done}/{self.total} done | running: {running} | "
            f"{elapsed // 60:02d}:{elapsed % 60:02d}"
        )

    def _finished_line(self, record: RunRecord) -> str:
        duration = record.duration if record.duration is not None else 0.0
        line = (
            f"  [{self.done}/{self.total}] {record.state.value:<9} "
            f"{record.label}  {duration:.1f} s"
        )
        if record.error is not None:
            where = record.error.cell_index
            cell = f" in cell {where}" if where is not None else ""
            line += f"  ({record.error.ename}: {record.error.evalue}{cell})"

        return line

    def _tick(self) -> None:
        while not self._closed.wait(REDRAW_SECONDS):
            with self._lock:
                self._redraw()

    def _redraw(self) -> None:
        """Draw the current state; call with the lock held."""
        if self.mode == "terminal":
            self._write(_CLEAR_LINE + self.status_line())
        elif self.mode == "notebook" and self._handle is not None:
            self._handle.update(self._notebook_view())

    def _open_display(self) -> Any:
        from IPython.display import display

        return display(self._notebook_view(), display_id=True)  # type: ignore[no-untyped-call]

    def _notebook_view(self) -> Any:
        from IPython.display import Pretty

        text = "\n".join([self.status_line(), *self.finished_lines])
        return Pretty(text)  # type: ignore[no-untyped-call]

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def approx_seconds(frequency: Frequency) -> int:
    """Return a frequency's length in seconds (calendar units approximately)."""
    if frequency.is_sub_daily:
        return frequency.seconds

    if frequency.unit in ("day", "week"):
        return frequency.days * _APPROX_SECONDS["day"]

    return frequency.months * _APPROX_SECONDS["month"]


def warn_if_too_coarse(
    schedule: Schedule, orch_frequency: str | Frequency, quiet: bool
) -> str | None:
    """Warn when the orchestrator runs less often than the most frequent pipeline.

    Such a pipeline runs at most once per orchestrator run, so it falls
    behind its own schedule. The warning is logged and, unless ``quiet``,
    printed.

    Args:
        schedule: the schedule; its pipelines tagged ``skip`` and those run
            by an upstream pipeline do not count.
        orch_frequency: how often the orchestrator runs.
        quiet: print nothing.

    Returns:
        The warning's text, or None when the orchestrator is frequent enough.
    """
    orch = (
        orch_frequency
        if isinstance(orch_frequency, Frequency)
        else parse_orch_frequency(orch_frequency)
    )
    frequencies = {
        name: spec.frequency
        for name, spec in schedule.pipelines.items()
        if not spec.skip and name not in schedule.downstream_names
    }
    if not frequencies:
        return None

    name = min(frequencies, key=lambda key: approx_seconds(frequencies[key]))
    fastest = frequencies[name]
    if approx_seconds(fastest) >= approx_seconds(orch):
        return None

    text = (
        f"the orchestrator runs every {orch} but pipeline {name!r} is scheduled "
        f"every {fastest}; it will run at most once per orchestrator run "
        f"(set orch_frequency to {fastest} or less)"
    )
    logger.warning("%s", text)
    if not quiet:
        print(f"maestro_nb: warning: {text}", flush=True)

    return text
