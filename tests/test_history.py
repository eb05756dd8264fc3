"""The run history: records, atomic claims across processes, catch-up windows."""

from __future__ import annotations

import json
import multiprocessing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from notebook_factory import write_pipeline

import maestro_nb
from maestro_nb._catchup import find_missed_runs, parse_window
from maestro_nb._frequency import parse_orch_frequency
from maestro_nb._history import HistoryEntry, RunHistory, get_history
from maestro_nb._tags import parse_tags

UTC = timezone.utc
SLOT = datetime(2024, 6, 1, 10, tzinfo=UTC)


def test_records_round_trip_as_a_table(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "runs" / "maestro_history.sqlite")
    entry = HistoryEntry(
        run_id="r1",
        pipe_name="daily",
        status="failed",
        slot=SLOT,
        scheduled_time=SLOT,
        started=SLOT,
        ended=SLOT + timedelta(seconds=3),
        duration=3.0,
        output_notebook="runs/daily/r1.ipynb",
        error="ZeroDivisionError: division by zero",
    )
    history.record(entry)
    history.record(HistoryEntry(run_id="r1", pipe_name="daily", status="completed"))
    history.close()

    table = get_history(tmp_path / "runs")
    assert table["run_id"].tolist() == ["r1"]
    assert table.loc[0, "status"] == "completed"  # updated in place
    assert str(table["slot"].dt.tz) == "UTC"


def test_a_slot_is_claimed_once(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "h.sqlite")
    assert history.claim("daily", SLOT, "r1")
    assert not history.claim("daily", SLOT, "r2")
    assert history.claim("daily", SLOT + timedelta(hours=1), "r3")
    assert history.claim("other", SLOT, "r4")
    assert history.claimed_slots("daily", SLOT) == {SLOT, SLOT + timedelta(hours=1)}


def _race(
    location: str,
    run_id: str,
    start: multiprocessing.synchronize.Event,
    results: multiprocessing.Queue[tuple[str, int]],
) -> None:
    history = RunHistory(location)
    start.wait()
    won = sum(history.claim(f"p{i}", SLOT, run_id) for i in range(50))
    results.put((run_id, won))


def test_two_processes_racing_for_the_same_slots_split_them(tmp_path: Path) -> None:
    location = str(tmp_path / "h.sqlite")
    RunHistory(location).close()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results: multiprocessing.Queue[tuple[str, int]] = context.Queue()
    racers = [
        context.Process(target=_race, args=(location, name, start, results))
        for name in ("a", "b")
    ]
    for racer in racers:
        racer.start()
    start.set()
    outcome = dict(results.get(timeout=60) for _ in racers)
    for racer in racers:
        racer.join(timeout=60)

    assert sum(outcome.values()) == 50  # every slot claimed exactly once


def test_sqlalchemy_url_works_too(tmp_path: Path) -> None:
    history = RunHistory(f"sqlite:///{tmp_path / 'shared.db'}")
    assert history.claim("daily", SLOT, "r1")
    assert not RunHistory(f"sqlite:///{tmp_path / 'shared.db'}").claim(
        "daily", SLOT, "r2"
    )


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("1 day", timedelta(days=1)),
        ("6 hours", timedelta(hours=6)),
        ("2 weeks", timedelta(days=14)),
    ],
)
def test_catch_up_windows(text: str, length: timedelta) -> None:
    assert parse_window(text) == length


def test_missed_slots_are_the_unclaimed_ones_after_history_began(
    tmp_path: Path,
) -> None:
    spec = parse_tags(
        {"frequency": "6 hours"}, name="quarterly_day", path=Path("q.ipynb")
    )
    history = RunHistory(tmp_path / "h.sqlite")
    began = history.started_at
    check = began + timedelta(days=2)
    hourly = parse_orch_frequency("1 hour")

    # Of the last day's four 6-hourly slots before the current one, claim one.
    day_ago = check - timedelta(days=1)
    slots_in_day = [
        run.slot
        for run in find_missed_runs([spec], history, hourly, check, timedelta(days=1))
    ]
    assert all(day_ago <= slot < check for slot in slots_in_day)
    assert len(slots_in_day) in (3, 4)  # the current slot is never "missed"
    history.claim("quarterly_day", slots_in_day[0], "r1")

    missed = find_missed_runs([spec], history, hourly, check, timedelta(days=1))
    assert [run.slot for run in missed] == slots_in_day[1:]
    assert [run.slot for run in missed] == sorted(run.slot for run in missed)

    # Nothing before the history began is ever missed.
    long_window = find_missed_runs([spec], history, hourly, check, timedelta(days=30))
    assert all(run.slot >= began for run in long_window)


def test_a_manual_run_all_leaves_the_slot_to_the_scheduled_run(tmp_path: Path) -> None:
    write_pipeline(tmp_path / "pipelines", "daily", {"frequency": "1 day"}, "x = 1")
    schedule = maestro_nb.build_schedule(tmp_path / "pipelines", quiet=True)
    check = "2026-01-01T00:00:00Z"
    runs = tmp_path / "runs"

    maestro_nb.run_schedule(
        schedule, check_datetime=check, run_all=True, quiet=True, output_dir=runs
    )
    maestro_nb.run_schedule(schedule, check_datetime=check, quiet=True, output_dir=runs)
    assert schedule.get_status()["status"].tolist() == ["completed"]

    maestro_nb.run_schedule(schedule, check_datetime=check, quiet=True, output_dir=runs)
    assert schedule.get_status()["status"].tolist() == ["already_claimed"]
    # The orchestrator that lost the race keeps the winner's status file.
    status = json.loads((runs / "last_status.json").read_text())
    assert [row["status"] for row in status["status"]] == ["completed"]
