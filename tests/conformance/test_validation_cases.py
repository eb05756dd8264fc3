"""Every case of ``validation_cases.jsonl``: what builds and what is refused."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from notebook_factory import reference_tags, write_pipeline

import maestro_nb
from maestro_nb._frequency import parse_orch_frequency

CASES = [
    json.loads(line)
    for line in (Path(__file__).parent / "validation_cases.jsonl")
    .read_text()
    .splitlines()
    if line.strip()
]
PIPELINE_CASES = [case for case in CASES if case["kind"] == "invalid_pipeline"]
ORCH_CASES = [case for case in CASES if case["kind"] == "invalid_orch_frequency"]


@pytest.mark.parametrize("case", PIPELINE_CASES, ids=[c["id"] for c in PIPELINE_CASES])
def test_pipeline_validation(
    case: dict[str, Any], tmp_path: Path, tally: Counter[str]
) -> None:
    pipeline = case["pipelines"][0]
    path = write_pipeline(tmp_path, pipeline["name"], reference_tags(pipeline["tags"]))

    schedule = maestro_nb.build_schedule(tmp_path, quiet=True)

    if case["error"]:
        assert pipeline["name"] not in schedule.pipelines
        errors = schedule.last_build_errors()
        assert errors["notebook"].tolist() == [str(path)] * len(errors)
        message = errors["message"].iloc[0]
        assert str(path) in message and repr(errors["value"].iloc[0]) in message
    else:
        assert schedule.build_errors == []
        assert list(schedule.pipelines) == [pipeline["name"]]

    tally["validation cases passed"] += 1


@pytest.mark.parametrize("case", ORCH_CASES, ids=[c["id"] for c in ORCH_CASES])
def test_orch_frequency_validation(
    case: dict[str, Any], tmp_path: Path, tally: Counter[str]
) -> None:
    write_pipeline(tmp_path, "p1", {})
    schedule = maestro_nb.build_schedule(tmp_path, quiet=True)
    assert list(schedule.pipelines) == ["p1"]

    if case["error"]:
        with pytest.raises(maestro_nb.FrequencyError, match="not valid"):
            maestro_nb.check_schedule(schedule, case["orch_frequency"], "2024-01-01")
    else:
        frequency = parse_orch_frequency(case["orch_frequency"])
        assert (frequency.amount, frequency.unit) == (
            case["parsed"]["n"],
            case["parsed"]["unit"],
        )
        maestro_nb.check_schedule(schedule, case["orch_frequency"], "2024-01-01")

    tally["validation cases passed"] += 1
