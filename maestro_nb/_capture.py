"""Counting the warnings and messages a pipeline emits, from inside its kernel.

The runner loads this module into each pipeline's kernel as an IPython
extension (``--IPKernelApp.extensions``); the notebook itself is untouched.
It records, one JSON line each (``kind``, ``text``, ``level`` and the epoch
``time``), in the file named by ``MAESTRO_EVENTS_PATH``:

* every Python warning shown (``warnings.showwarning``), as a warning;
* every logging record created at WARNING or above, as a warning;
* every logging record created below WARNING, as a message.

Log records are seen through the record factory, so no handler is added and
what the notebook prints is unchanged; a record below the logger's level is
never created, hence never counted (INFO counts once the notebook enables it).
Plain text written to stderr is shown in the executed notebook but not
counted: it carries no level to tell a warning from a message.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

__all__ = ["EVENTS_ENV", "load_ipython_extension", "read_events"]

EVENTS_ENV = "MAESTRO_EVENTS_PATH"
WARNING = "warning"
MESSAGE = "message"

# The kernel's own machinery logs at DEBUG through loggers whose level it
# sets itself; those records are not the notebook's, so they never count.
_KERNEL_LOGGERS = (
    "IPKernelApp",
    "asyncio",
    "comm",
    "ipykernel",
    "jupyter_client",
    "tornado",
    "traitlets",
    "zmq",
)

_installed = False


def load_ipython_extension(ipython: object) -> None:
    """Install the warning and log-record hooks (IPython's extension entry)."""
    global _installed
    if _installed:
        return

    _installed = True
    writer = _EventWriter()
    _hook_warnings(writer)
    _hook_log_records(writer)


def read_events(path: Path) -> tuple[list[str], list[str]]:
    """Return the warnings and the messages recorded in an events file."""
    found: dict[str, list[str]] = {WARNING: [], MESSAGE: []}
    if not path.exists():
        return [], []

    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue

        if isinstance(event, dict) and event.get("kind") in found:
            found[event["kind"]].append(str(event.get("text", "")))

    return found[WARNING], found[MESSAGE]


class _EventWriter:
    """Appends events to the file named by the environment at each write.

    The runner may name the file only after the kernel has started (a kernel
    started ahead of its run); events before that are not the notebook's.
    """

    def write(self, kind: str, text: str, level: str) -> None:
        target = os.environ.get(EVENTS_ENV)
        if not target:
            return

        event = {"kind": kind, "text": text, "level": level, "time": time.time()}
        line = json.dumps(event) + "\n"
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(line)


def _hook_warnings(writer: _EventWriter) -> None:
    shown = warnings.showwarning

    def showwarning(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        writer.write(WARNING, f"{category.__name__}: {message}", "WARNING")
        shown(message, category, filename, lineno, file, line)

    warnings.showwarning = showwarning


def _hook_log_records(writer: _EventWriter) -> None:
    make_record: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if _is_kernel_logger(record.name):
            return record

        kind = WARNING if record.levelno >= logging.WARNING else MESSAGE
        try:
            text = f"{record.levelname} {record.name}: {record.getMessage()}"
        except Exception:  # a bad format string must not break the notebook
            text = f"{record.levelname} {record.name}: {record.msg!r}"

        writer.write(kind, text, record.levelname)
        return record

    logging.setLogRecordFactory(record_factory)


def _is_kernel_logger(name: str) -> bool:
    root = name.split(".", 1)[0]
    return root in _KERNEL_LOGGERS
