"""Every case of ``schedule_cases.jsonl``, run through real notebooks.

Each case's pipelines are written as notebooks, built with
``build_schedule()``, and every check is answered by ``check_schedule()``:
the due set in run order and every pipeline's next run. Each run sequence is
answered by ``get_run_sequence()``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from notebook_factory import reference_tags, write_pipeline

import maestro_nb

CASES = [
    json.loads(line)
    for line in (Path(__file__).parent / "schedule_cases.jsonl")
    .read_text()
    .splitlines()
    if line.strip()
]


def _iso(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None

    return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cases")


def _build(case: dict[str, Any], workspace: Path) -> maestro_nb.Schedule:
    folder = workspace / case["id"]
    for pipeline in case["pipelines"]:
        write_pipeline(folder, pipeline["name"], reference_tags(pipeline["tags"]))

    return maestro_nb.build_schedule(folder, quiet=True)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_schedule_case(
    case: dict[str, Any], workspace: Path, tally: Counter[str]
) -> None:
    schedule = _build(case, workspace)
    failed = {error.pipe_name for error in schedule.build_errors}
    assert failed == set(case.get("build_errors", {}))
    assert list(schedule.pipelines) == [
        name for name in case["schedule_order"] if name not in failed
    ]

    mismatches = [
        mismatch
        for check in case["checks"]
        if (mismatch := _check_mismatch(schedule, case["orch_frequency"], check))
    ]
    tally["schedule checks passed"] += len(case["checks"]) - len(mismatches)
    assert not mismatches, "\n".join(mismatches[:5])

    _assert_run_sequence(schedule, case["run_sequence"], tally)


def _check_mismatch(
    schedule: maestro_nb.Schedule, orch_frequency: str, check: dict[str, Any]
) -> str | None:
    table = maestro_nb.check_schedule(schedule, orch_frequency, check["check_datetime"])
    due = table.loc[table["is_due"], "pipe_name"].tolist()
    next_runs = {row.pipe_name: _iso(row.next_run) for row in table.itertuples()}
    expected_next = {
        name: instant
        for name, instant in check["next_run"].items()
        if name in schedule.pipelines
    }
    if due == check["due"] and next_runs == expected_next:
        return None

    return (
        f"at {check['check_datetime']}: due {due} (expected {check['due']}), "
        f"next runs {next_runs} (expected {expected_next})"
    )


def _assert_run_sequence(
    schedule: maestro_nb.Schedule, sequence: dict[str, Any], tally: Counter[str]
) -> None:
    table = maestro_nb.get_run_sequence(
        schedule,
        n=sequence["n"],
        min_datetime=sequence["min_datetime"],
        max_datetime=sequence["max_datetime"],
    )
    for name, expected in sequence["times"].items():
        if expected is None:
            assert name not in schedule.pipelines
            continue

        rows = table[table["pipe_name"] == name]
        assert [_iso(value) for value in rows["scheduled_time"]] == expected, name
        tally["run sequences passed"] += 1
