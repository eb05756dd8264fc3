"""What a run leaves for people and tools to read: log lines and the last status.

Everything a pipeline's kernel emits during a run becomes one event: its
Python warnings and log records (counted inside the kernel, see ``_capture``),
the text it wrote to stderr, and the error that stopped it. The events at or
above the pipeline's ``logLevel`` tag are logged, one record each, through
the ``maestro_nb.pipelines.<name>`` logger, and the run's status counts are
set from the very same events, so the counts always agree with the log:

* ``[WARN]`` lines are the ``warnings`` column (Python warnings and log
  records at WARNING and above, whose own level stays in the text);
* ``[INFO]`` and ``[DEBUG]`` lines are the ``messages`` column (log records
  below WARNING, and stderr text, which counts as INFO);
* ``[ERROR]`` lines are the ``errors`` column (the run failed).

The library attaches handlers only for the length of a run, and only when
the caller asks (``log_to_console``, ``log_to_file``); the line format is
``[pipe] [LEVEL] [2026-01-31 12:00:00]: message`` with UTC times.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat

from ._capture import MESSAGE, WARNING
from ._localtime import UTC
from ._status import RunRecord, RunReport

__all__ = [
    "LOG_FILE_NAME",
    "PIPELINE_LOGGER",
    "STATUS_FILE_NAME",
    "PipelineEvent",
    "log_routing",
    "log_run",
    "read_status_file",
    "write_status_file",
]

logger = logging.getLogger(__name__)

PACKAGE_LOGGER = "maestro_nb"
PIPELINE_LOGGER = "maestro_nb.pipelines"
LOG_FILE_NAME = "maestro.log"
LOG_BACKUP_COUNT = 5
STATUS_FILE_NAME = "last_status.json"
ERROR = "error"

# The tag's level names, as in the reference; WARNING is accepted for WARN.
_LEVELS = {"ERROR": logging.ERROR, "WARN": logging.WARNING, "INFO": logging.INFO}
_LEVELS |= {"WARNING": logging.WARNING, "DEBUG": logging.DEBUG}
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class PipelineEvent:
    """One thing a pipeline emitted during a run, as it is logged and counted.

    Attributes:
        kind: ``"warning"``, ``"message"`` or ``"error"``: the status column
            it counts in.
        level: the logging level its line is written at.
        time: when it happened (UTC).
        text: what it said.
    """

    kind: str
    level: int
    time: datetime
    text: str


def level_number(log_level: str) -> int:
    """Return the logging level of a ``logLevel`` tag value (``"WARN"``)."""
    return _LEVELS.get(log_level.upper(), logging.INFO)


def log_run(record: RunRecord, log_level: str, output_dir: Path) -> None:
    """Log a finished run's events at or above ``log_level`` and count them.

    The record's ``warnings`` and ``messages`` are replaced by the events
    that pass the level, so its status counts are the lines logged.

    Args:
        record: the finished run.
        log_level: the pipeline's ``logLevel`` tag.
        output_dir: the runs folder the run's files are in.
    """
    threshold = level_number(log_level)
    events = [e for e in run_events(record, output_dir) if e.level >= threshold]
    record.warnings = [e.text for e in events if e.kind == WARNING]
    record.messages = [e.text for e in events if e.kind == MESSAGE]
    pipeline_logger = logging.getLogger(f"{PIPELINE_LOGGER}.{record.pipe_name}")
    for event in events:
        extra = {"pipe": record.pipe_name, "event_time": event.time}
        # "WARNING pipe: odd" is logged as "pipe: odd" on a [WARN] line.
        text = event.text.removeprefix(f"{logging.getLevelName(event.level)} ")
        pipeline_logger.log(event.level, "%s", text, extra=extra)


def run_events(record: RunRecord, output_dir: Path) -> list[PipelineEvent]:
    """Return everything a run emitted, in time order, whatever the level."""
    fallback = record.ended or datetime.now(UTC)
    captured = _captured_events(_events_file(record, output_dir), fallback)
    events = captured + _uncaptured_warnings(record, captured, fallback)
    events += _stderr_events(record.output_notebook, captured, fallback)
    if record.error is not None:
        events.append(PipelineEvent(ERROR, logging.ERROR, fallback, str(record.error)))

    return sorted(events, key=lambda event: event.time)


def _events_file(record: RunRecord, output_dir: Path) -> Path | None:
    """Find the run's events file by its run id (its notebook may be gone)."""
    if record.run_id is None:
        return None

    folder = output_dir / record.pipe_name
    return next(folder.glob(f"*_{record.run_id}.events.jsonl"), None)


def _captured_events(path: Path | None, fallback: datetime) -> list[PipelineEvent]:
    if path is None:
        return []

    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            raw = json.loads(line)
        except json.JSONDecodeError:
            continue

        if isinstance(raw, dict) and raw.get("kind") in (WARNING, MESSAGE):
            events.append(_captured_event(raw, fallback))

    return events


def _captured_event(raw: dict[str, Any], fallback: datetime) -> PipelineEvent:
    kind, text = str(raw["kind"]), str(raw.get("text", ""))
    when = raw.get("time")
    time = datetime.fromtimestamp(when, UTC) if isinstance(when, float) else fallback
    if kind == WARNING:
        return PipelineEvent(kind, logging.WARNING, time, text)

    # Messages are the records below WARNING: INFO and up is INFO, the rest DEBUG.
    number = logging.getLevelName(str(raw.get("level") or text.split(" ", 1)[0]))
    is_info = isinstance(number, int) and number >= logging.INFO
    return PipelineEvent(kind, logging.INFO if is_info else logging.DEBUG, time, text)


def _uncaptured_warnings(
    record: RunRecord, captured: list[PipelineEvent], time: datetime
) -> list[PipelineEvent]:
    """Return the record's warnings from outside the kernel (unreadable artifact)."""
    extra = Counter(record.warnings) - Counter(
        event.text for event in captured if event.kind == WARNING
    )
    return [
        PipelineEvent(WARNING, logging.WARNING, time, text) for text in extra.elements()
    ]


def _stderr_events(
    notebook: Path | None, captured: list[PipelineEvent], fallback: datetime
) -> list[PipelineEvent]:
    """Return the executed notebook's stderr lines, as INFO messages.

    A warning or a log record that the kernel also printed to stderr is
    already an event; its printed lines (and the source line a warning shows
    under it) are left out, so nothing is logged or counted twice.
    """
    if notebook is None or not notebook.exists():
        return []

    try:
        cells = nbformat.read(str(notebook), as_version=4).cells  # type: ignore[no-untyped-call]
    except Exception:  # a half-written notebook has no stderr worth reading
        return []

    texts = [_message_part(event.text) for event in captured]
    events = []
    for cell in cells:
        time = _cell_end(cell, fallback)
        for line in _stderr_lines(cell, texts):
            events.append(PipelineEvent(MESSAGE, logging.INFO, time, line))

    return events


def _stderr_lines(cell: Any, captured_texts: list[str]) -> Iterator[str]:
    dropping = False
    for output in cell.get("outputs", []):
        if output.get("output_type") != "stream" or output.get("name") != "stderr":
            continue

        for line in str(output.get("text", "")).splitlines():
            if dropping and line.startswith((" ", "\t")):
                continue

            dropping = _repeats(line.strip(), captured_texts)
            if line.strip() and not dropping:
                yield f"stderr: {line.rstrip()}"


def _repeats(line: str, captured_texts: list[str]) -> bool:
    return bool(line) and any(t and (t in line or line in t) for t in captured_texts)


def _message_part(text: str) -> str:
    """Return ``msg`` from ``"LEVEL name: msg"`` or ``"Category: msg"``."""
    return text.split(": ", 1)[1] if ": " in text else text


def _cell_end(cell: Any, fallback: datetime) -> datetime:
    stamp = cell.get("metadata", {}).get("papermill", {}).get("end_time")
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return fallback


class LineFormatter(logging.Formatter):
    """Format records as ``[pipe] [LEVEL] [2026-01-31 12:00:00]: message`` (UTC).

    A pipeline's lines carry its name and the time the event happened; the
    library's own records carry ``maestro_nb`` and the time they were logged.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line (a traceback follows on its own lines)."""
        pipe = getattr(record, "pipe", PACKAGE_LOGGER)
        when = getattr(record, "event_time", None)
        if not isinstance(when, datetime):
            when = datetime.fromtimestamp(record.created, UTC)

        level = "WARN" if record.levelname == "WARNING" else record.levelname
        line = f"[{pipe}] [{level}] [{when:{_TIME_FORMAT}}]: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)

        return line


@contextmanager
def log_routing(
    to_console: bool,
    to_file: bool | str | os.PathLike[str],
    output_dir: Path,
    max_bytes: int,
) -> Iterator[None]:
    """Attach the handlers the caller asked for to the package logger, for one run.

    These handlers exist only because the caller passed ``log_to_console`` or
    ``log_to_file``, and they are removed when the run ends. The log file
    rotates at ``max_bytes`` and keeps the last few files (``maestro.log.1``
    is the newest of them).
    """
    handlers = _handlers(to_console, to_file, output_dir, max_bytes)
    package_logger = logging.getLogger(PACKAGE_LOGGER)
    pipeline_logger = logging.getLogger(PIPELINE_LOGGER)
    levels = (package_logger.level, pipeline_logger.level)
    for handler in handlers:
        handler.setFormatter(LineFormatter())
        package_logger.addHandler(handler)

    if handlers:
        # The pipelines' lines are already filtered by their logLevel tag.
        pipeline_logger.setLevel(logging.DEBUG)
        if package_logger.getEffectiveLevel() > logging.INFO:
            package_logger.setLevel(logging.INFO)

    try:
        yield
    finally:
        for handler in handlers:
            package_logger.removeHandler(handler)
            handler.close()

        package_logger.setLevel(levels[0])
        pipeline_logger.setLevel(levels[1])


def _handlers(
    to_console: bool,
    to_file: bool | str | os.PathLike[str],
    output_dir: Path,
    max_bytes: int,
) -> list[logging.Handler]:
    handlers: list[logging.Handler] = []
    if to_console:
        handlers.append(logging.StreamHandler())

    if to_file is not False:
        path = output_dir / LOG_FILE_NAME if to_file is True else Path(to_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                path, maxBytes=max_bytes, backupCount=LOG_BACKUP_COUNT, encoding="utf-8"
            )
        )

    return handlers


def write_status_file(report: RunReport, output_dir: Path) -> Path:
    """Write the run's status table to ``<output_dir>/last_status.json``.

    The file is replaced atomically, so a reader never sees half of it.
    """
    rows = [_json_row(record.status_row()) for record in report.records]
    content = {
        "check_datetime": report.check_datetime.isoformat(),
        "orch_frequency": report.orch_frequency,
        "status": rows,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / STATUS_FILE_NAME
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(content, indent=1), encoding="utf-8")
    partial.replace(path)
    return path


def read_status_file(output_dir: Path) -> dict[str, Any] | None:
    """Return what :func:`write_status_file` wrote, or None if no run wrote it."""
    path = output_dir / STATUS_FILE_NAME
    if not path.exists():
        return None

    content: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return content


def _json_row(row: dict[str, object]) -> dict[str, object]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in row.items()
    }
