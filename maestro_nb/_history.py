"""The run history: every run recorded in a database, by default SQLite.

The orchestrator stays stateless in what it *decides*; the history only
remembers what it *did*. That memory serves three things:

* ``get_history()``: a table of every run (pipeline, slot, status, times,
  executed notebook, error);
* claims: before running a pipeline for a slot, an orchestrator claims the
  pair (pipeline, slot) with one atomic insert. A second orchestrator started
  for the same slot (a double trigger on Connect, two hub servers) finds the
  claim taken and leaves that run alone;
* catch-up: slots that a pipeline was due in while no orchestrator ran.

The database is a file in the output directory unless a SQLAlchemy URL points
at a shared one (``postgresql://...``).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from ._localtime import UTC

__all__ = ["HISTORY_FILE", "HistoryEntry", "RunHistory", "get_history"]

HISTORY_FILE = "maestro_history.sqlite"
HISTORY_COLUMNS = [
    "run_id",
    "pipe_name",
    "slot",
    "scheduled_time",
    "status",
    "started",
    "ended",
    "duration",
    "output_notebook",
    "error",
    "attempt",
    "orchestrator",
]

_METADATA = sa.MetaData()
_RUNS = sa.Table(
    "maestro_runs",
    _METADATA,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("pipe_name", sa.String(255), nullable=False, index=True),
    sa.Column("slot", sa.String(32)),
    sa.Column("scheduled_time", sa.String(32)),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("started", sa.String(32)),
    sa.Column("ended", sa.String(32)),
    sa.Column("duration", sa.Float),
    sa.Column("output_notebook", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("attempt", sa.Integer),
    sa.Column("orchestrator", sa.String(255)),
)
_CLAIMS = sa.Table(
    "maestro_claims",
    _METADATA,
    sa.Column("pipe_name", sa.String(255), primary_key=True),
    sa.Column("slot", sa.String(32), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("claimed_at", sa.String(32), nullable=False),
    sa.Column("orchestrator", sa.String(255)),
)
_META = sa.Table(
    "maestro_meta",
    _METADATA,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text),
)


@dataclass(frozen=True)
class HistoryEntry:
    """One run as the history stores it."""

    run_id: str
    pipe_name: str
    status: str
    slot: datetime | None = None
    scheduled_time: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    duration: float | None = None
    output_notebook: str | None = None
    error: str | None = None
    attempt: int = 1


class RunHistory:
    """A run history at a file path (SQLite) or a SQLAlchemy URL.

    Args:
        location: a file path, or a URL such as ``sqlite:///history.db`` or
            ``postgresql://user@host/db``.
    """

    def __init__(self, location: str | os.PathLike[str]) -> None:
        self.location = str(location)
        self.engine = sa.create_engine(
            _url(self.location), connect_args=_connect_args(self.location)
        )
        self._create_tables()
        self.orchestrator = f"{socket.gethostname()}:{os.getpid()}"
        self._remember_start()

    def __repr__(self) -> str:
        return f"<RunHistory {self.location}>"

    @property
    def started_at(self) -> datetime:
        """When this history first recorded anything (catch-up never looks earlier)."""
        with self.engine.connect() as connection:
            value = connection.execute(
                sa.select(_META.c.value).where(_META.c.key == "created_at")
            ).scalar_one()

        return datetime.fromisoformat(value)

    def claim(self, pipe_name: str, slot: datetime, run_id: str) -> bool:
        """Claim (pipeline, slot) for a run; False when another run holds it.

        One insert under the table's primary key: of two orchestrators racing
        for the same pair, exactly one insert succeeds.
        """
        row = {
            "pipe_name": pipe_name,
            "slot": _iso(slot),
            "run_id": run_id,
            "claimed_at": _iso(datetime.now(UTC)),
            "orchestrator": self.orchestrator,
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(_CLAIMS.insert().values(**row))
        except sa.exc.IntegrityError:
            return False

        return True

    def claimed_slots(self, pipe_name: str, since: datetime) -> set[datetime]:
        """Return the slots of a pipeline claimed at or after ``since``."""
        query = sa.select(_CLAIMS.c.slot).where(
            _CLAIMS.c.pipe_name == pipe_name, _CLAIMS.c.slot >= _iso(since)
        )
        with self.engine.connect() as connection:
            slots = connection.execute(query).scalars().all()

        return {datetime.fromisoformat(slot) for slot in slots}

    def record(self, entry: HistoryEntry) -> None:
        """Insert or update one run."""
        row = {
            "run_id": entry.run_id,
            "pipe_name": entry.pipe_name,
            "slot": _iso(entry.slot),
            "scheduled_time": _iso(entry.scheduled_time),
            "status": entry.status,
            "started": _iso(entry.started),
            "ended": _iso(entry.ended),
            "duration": entry.duration,
            "output_notebook": entry.output_notebook,
            "error": entry.error,
            "attempt": entry.attempt,
            "orchestrator": self.orchestrator,
        }
        with self.engine.begin() as connection:
            updated = connection.execute(
                _RUNS.update().where(_RUNS.c.run_id == entry.run_id).values(**row)
            )
            if updated.rowcount == 0:
                connection.execute(_RUNS.insert().values(**row))

    def frame(self) -> pd.DataFrame:
        """Return every recorded run, oldest first, times as UTC timestamps."""
        query = sa.select(*[_RUNS.c[name] for name in HISTORY_COLUMNS])
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(_RUNS.c.started)).all()

        frame: pd.DataFrame = pd.DataFrame(
            [tuple(row) for row in rows], columns=HISTORY_COLUMNS
        )
        for column in ("slot", "scheduled_time", "started", "ended"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")

        return frame

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def _create_tables(self) -> None:
        """Create the tables; two orchestrators may race to do it first."""
        try:
            _METADATA.create_all(self.engine)
        except sa.exc.OperationalError:
            _METADATA.create_all(self.engine)

    def _remember_start(self) -> None:
        row = {"key": "created_at", "value": _iso(datetime.now(UTC))}
        try:
            with self.engine.begin() as connection:
                connection.execute(_META.insert().values(**row))
        except sa.exc.IntegrityError:
            pass  # an earlier run (or a racing orchestrator) wrote it first


def get_history(location: str | os.PathLike[str] = "runs") -> pd.DataFrame:
    """Return every recorded run from a history (an output folder, file or URL).

    Args:
        location: an output folder (its ``maestro_history.sqlite`` is read), a
            database file, or a SQLAlchemy URL.
    """
    history = RunHistory(history_location(location))
    try:
        frame: pd.DataFrame = history.frame()
    finally:
        history.close()

    return frame


def history_location(location: str | os.PathLike[str]) -> str:
    """Resolve an output folder to its history file; pass files and URLs on."""
    text = str(location)
    if "://" in text:
        return text

    path = Path(text)
    if path.is_dir() or not path.suffix:
        return str(path / HISTORY_FILE)

    return text


def _connect_args(location: str) -> dict[str, object]:
    """SQLite waits for a racing writer instead of failing at once."""
    if "://" not in location or location.startswith("sqlite"):
        return {"timeout": 30}

    return {}


def _url(location: str) -> str:
    if "://" in location:
        return location

    path = Path(location).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _iso(value: datetime | None) -> str | None:
    """Store instants as ISO-8601 UTC text, which sorts in time order."""
    if value is None:
        return None

    return value.astimezone(UTC).isoformat(timespec="seconds")
