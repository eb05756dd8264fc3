"""The run history as one orchestrator run uses it: claims, records, catch-up.

With a history (the default, ``<output_dir>/maestro_history.sqlite``) an
orchestrator claims each (pipeline, slot) before it runs it, so a second
orchestrator started for the same slot leaves that run alone and reports it
as ``already_claimed``; it records every run it started, whatever happened;
and on request it catches up the slots that no orchestrator ran. With
``history=False`` nothing is remembered and every run is decided afresh, as
in the reference implementation.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from ._catchup import MissedRun, find_missed_runs
from ._frequency import Frequency
from ._history import HISTORY_FILE, HistoryEntry, RunHistory, history_location
from ._status import RunRecord
from ._tags import PipelineSpec

__all__ = ["HistoryOption", "Recorder"]

logger = logging.getLogger(__name__)

HistoryOption = bool | str | os.PathLike[str] | None


class Recorder:
    """Claims and records the runs of one orchestrator run (a no-op without history).

    Args:
        history: the open history, or None to remember nothing.
    """

    def __init__(self, history: RunHistory | None) -> None:
        self.history = history
        self._slots: dict[datetime | None, datetime] = {}

    @classmethod
    def open(cls, option: HistoryOption, runs_dir: Path) -> Recorder:
        """Open the history ``option`` names: True for the one in ``runs_dir``.

        Args:
            option: True (the default file in the output folder), False or
                None (no history), a database file, a folder or a SQLAlchemy URL.
            runs_dir: the output folder.
        """
        if option is None or option is False:
            return cls(None)

        location = runs_dir / HISTORY_FILE if option is True else option
        return cls(RunHistory(history_location(location)))

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.history is not None:
            self.history.close()

    def claim(self, name: str, slot: datetime, scheduled_time: datetime | None) -> bool:
        """Claim a pipeline's slot; False when another orchestrator holds it."""
        # TODO: a claim has no lease, so an orchestrator killed outright
        # (SIGKILL, power loss) after claiming leaves that slot claimed and
        # unrun, and catch-up skips it too; a claim should expire when its
        # run never recorded an end.
        self._slots[scheduled_time] = slot
        if self.history is None:
            return True

        return self.history.claim(name, slot, uuid.uuid4().hex[:12])

    def missed(
        self,
        specs: list[PipelineSpec],
        orch_frequency: Frequency,
        check: datetime,
        window: timedelta,
        excluded: frozenset[str],
    ) -> list[MissedRun]:
        """Return the slots to catch up, oldest first (none without a history)."""
        if self.history is None:
            logger.warning("catch-up needs a run history; none is kept (history=False)")
            return []

        args = (specs, self.history, orch_frequency, check, window, excluded)
        return find_missed_runs(*args)

    def record(self, record: RunRecord) -> None:
        """Write a run that was started into the history.

        A history that cannot be written is logged, never fatal: the run
        happened and its status still reaches the status table and file.
        """
        if self.history is None or record.run_id is None:
            return

        try:
            self.history.record(self._entry(record))
        except (sa.exc.SQLAlchemyError, OSError):
            logger.exception("%s: run %s not recorded", record.notebook, record.run_id)

    def _entry(self, record: RunRecord) -> HistoryEntry:
        return HistoryEntry(
            run_id=str(record.run_id),
            pipe_name=record.pipe_name,
            status=record.state.value,
            slot=self._slots.get(record.scheduled_time),
            scheduled_time=record.scheduled_time,
            started=record.started,
            ended=record.ended,
            duration=record.duration,
            output_notebook=_text(record.output_notebook),
            error=str(record.error) if record.error is not None else None,
            attempt=record.attempt,
        )


def _text(path: Path | None) -> str | None:
    return str(path) if path is not None else None
