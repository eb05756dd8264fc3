"""DAG runs with real kernels and real papermill; every notebook is tiny."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from notebook_factory import OUT, TAKES, write_map_collect_dag, write_pipeline

import maestro_nb
from maestro_nb import Schedule

pytestmark = pytest.mark.usefixtures("python3_kernel")


def build(folder: Path) -> Schedule:
    return maestro_nb.build_schedule(folder, quiet=True, output_dir=folder / "runs")


def run(folder: Path, workers: int = 2) -> Schedule:
    schedule = build(folder)
    maestro_nb.run_schedule(
        schedule, run_all=True, workers=workers, quiet=True, output_dir=folder / "runs"
    )
    return schedule


def rows(schedule: Schedule, name: str) -> pd.DataFrame:
    status = schedule.get_status()
    return status[status["pipe_name"] == name].reset_index(drop=True)


def one(schedule: Schedule, name: str) -> pd.Series:
    found = rows(schedule, name)
    assert len(found) == 1, found
    return found.iloc[0]


def test_chain_hands_frames_and_large_values_across_kernels_and_invoke(
    tmp_path: Path,
) -> None:
    frame = "pd.DataFrame({'a': [1, 2, 3], 'b': ['x', 'y', 'z']})"
    write_pipeline(
        tmp_path, "extract", {}, "", [f"import pandas as pd\n{OUT.format(frame)}"]
    )
    big = "{'n': int(maestro_input['a'].sum()), 'big': list(range(20_000))}"
    body = f"if maestro_input is None:\n    maestro_input = {frame}\n{OUT.format(big)}"
    write_pipeline(
        tmp_path,
        "transform",
        {"inputs": "extract"},
        TAKES,
        ["import pandas as pd", body],
    )
    load = "(maestro_input['n'], maestro_input['big'] == list(range(20_000)))"
    write_pipeline(tmp_path, "load", {"outputs": []}, TAKES, [OUT.format(load)])
    write_pipeline(tmp_path, "transform_", {"inputs": "transform", "outputs": "load"},
                   TAKES, [OUT.format("maestro_input")])  # fmt: skip
    schedule = build(tmp_path)

    schedule.invoke("extract", workers=2, quiet=True, output_dir=tmp_path / "runs")

    assert (schedule.get_status()["status"] == "completed").all()
    assert list(schedule.get_status()["pipe_name"]) == [
        "extract", "transform", "transform_", "load"
    ]  # fmt: skip
    artifacts = schedule.get_artifacts()
    assert artifacts["extract"].equals(pd.DataFrame({"a": [1, 2, 3], "b": list("xyz")}))
    assert artifacts["transform_"]["n"] == 6
    assert artifacts["load"] == (6, True)
    extract, transform = one(schedule, "extract"), one(schedule, "transform")
    assert transform["input_run_id"] == extract["run_id"]
    assert one(schedule, "load")["lineage"] == "extract->transform->transform_->load"
    by_run = schedule.get_artifacts(by_run=True)
    assert by_run[transform["run_id"]]["n"] == 6
    executed = Path(transform["output_notebook"]).read_text()
    assert "injected-maestro-input" in executed  # the frame came through a file

    schedule.invoke("transform", quiet=True, output_dir=tmp_path / "runs")

    assert list(schedule.get_status()["pipe_name"]) == [
        "transform",
        "transform_",
        "load",
    ]
    assert schedule.get_artifacts()["load"] == (6, True)


def test_diamond_runs_once_per_lineage_and_collect_once(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "root", {}, "", [OUT.format("10")])
    for name, step in (("left", 1), ("right", 2)):
        write_pipeline(
            tmp_path, name, {"inputs": "root"}, TAKES,
            [OUT.format(f"maestro_input + {step}")],
        )  # fmt: skip
    write_pipeline(
        tmp_path, "join", {"inputs": "left right"}, TAKES, [OUT.format("maestro_input")]
    )
    write_pipeline(
        tmp_path, "both", {"inputs": "collect(left, right)"}, TAKES,
        [OUT.format("maestro_input")],
    )  # fmt: skip

    schedule = run(tmp_path)

    joins = rows(schedule, "join")
    assert sorted(joins["lineage"]) == ["root->left->join", "root->right->join"]
    assert sorted(schedule.get_artifacts()["join"]) == [11, 12]
    both = one(schedule, "both")
    assert both["lineage"] == "left&right->both"
    assert both["input_run_id"] == ",".join(
        [one(schedule, "left")["run_id"], one(schedule, "right")["run_id"]]
    )
    assert schedule.get_artifacts()["both"] == {"left": 11, "right": 12}


def test_map_over_a_list_with_a_failing_iteration_then_collect(tmp_path: Path) -> None:
    write_map_collect_dag(tmp_path)

    schedule = run(tmp_path)

    divide = rows(schedule, "divide")
    assert list(divide["iteration"]) == [0, 1, 2]
    assert list(divide["status"]) == ["completed", "failed", "completed"]
    assert "divide[1]" in schedule.last_run_errors()
    assert one(schedule, "total")["status"] == "completed"
    assert schedule.get_artifacts()["total"] == [3, 6]


def test_map_zips_fields_recycles_length_one_and_refuses_unequal(
    tmp_path: Path,
) -> None:
    value = "{'ids': [1, 2, 3], 'tag': ['t'], 'scale': 10, 'other': [1, 2]}"
    write_pipeline(tmp_path, "params", {}, "", [OUT.format(value)])
    write_pipeline(
        tmp_path, "each", {"inputs": "params", "map": "ids tag"}, TAKES,
        [OUT.format("[maestro_input[k] for k in ('ids', 'tag', 'scale')]")],
    )  # fmt: skip
    write_pipeline(
        tmp_path, "uneven", {"inputs": "params", "map": ["ids", "other"]}, TAKES,
        [OUT.format("1")],
    )  # fmt: skip
    write_pipeline(tmp_path, "after_uneven", {"inputs": "uneven"}, TAKES, [])

    schedule = run(tmp_path)

    assert schedule.get_artifacts()["each"] == [
        [1, "t", 10],
        [2, "t", 10],
        [3, "t", 10],
    ]
    uneven = one(schedule, "uneven")
    assert uneven["status"] == "failed" and pd.isna(uneven["run_id"])
    assert "ids has 3, other has 2" in schedule.last_run_errors()["uneven"]
    assert one(schedule, "after_uneven")["status"] == "upstream_failed"


def test_run_if_true_false_non_bool_and_raising(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "count", {}, "", [OUT.format("{'n': 3}")])
    cases = {
        "yes": "maestro_input['n'] > 2",
        "no": "maestro_input['n'] > 5",
        "vague": "maestro_input['n']",
        "broken": "maestro_input['missing'] > 1",
    }
    for name, condition in cases.items():
        tags = {"inputs": "count", "runIf": condition}
        write_pipeline(tmp_path, name, tags, TAKES, [OUT.format("'ran'")])

    write_pipeline(tmp_path, "below_no", {"inputs": "no"}, TAKES, [])
    write_pipeline(tmp_path, "below_broken", {"inputs": "broken"}, TAKES, [])

    schedule = run(tmp_path)

    assert one(schedule, "yes")["status"] == "completed"
    assert one(schedule, "no")["status"] == "skipped"
    assert "is False" in one(schedule, "no")["note"]
    assert one(schedule, "below_no")["status"] == "skipped"
    errors = schedule.last_run_errors()
    assert "returned 3 (int), not True or False" in errors["vague"]
    assert "KeyError" in errors["broken"]
    assert one(schedule, "below_broken")["status"] == "upstream_failed"
    assert set(schedule.get_artifacts()) == {"count", "yes"}


def test_branches_run_side_by_side_and_a_failure_stops_only_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_pipeline(tmp_path, "start", {}, "", [OUT.format("1")])
    sleep = "import time\ntime.sleep(1.0)"
    write_pipeline(
        tmp_path, "good", {"inputs": "start"}, TAKES, [sleep, OUT.format("2")]
    )
    write_pipeline(
        tmp_path, "bad", {"inputs": "start"}, TAKES, [sleep, "raise ValueError('no')"]
    )
    write_pipeline(tmp_path, "good_next", {"inputs": "good"}, TAKES, [OUT.format("3")])
    write_pipeline(tmp_path, "bad_next", {"inputs": "bad"}, TAKES, [])
    write_pipeline(tmp_path, "bad_last", {"inputs": "bad_next"}, TAKES, [])
    schedule = build(tmp_path)

    maestro_nb.run_schedule(
        schedule, run_all=True, workers=2, output_dir=tmp_path / "runs"
    )

    good, bad = one(schedule, "good"), one(schedule, "bad")
    assert good["started"] < bad["ended"] and bad["started"] < good["ended"]
    assert one(schedule, "good_next")["status"] == "completed"
    assert one(schedule, "bad_next")["status"] == "upstream_failed"
    assert one(schedule, "bad_last")["status"] == "upstream_failed"
    assert one(schedule, "bad_last")["note"] == "upstream bad_next did not run"
    printed = capsys.readouterr().out
    assert "DAG runs:\n  start  completed" in printed
    assert "\n      good_next  completed" in printed
    assert "\n        bad_last  upstream_failed" in printed
