from __future__ import annotations

from pathlib import Path

import pytest
from notebook_factory import write_pipeline

import maestro_nb
from maestro_nb._conditions import evaluate_run_if
from maestro_nb._exceptions import ConditionError, FanOutError
from maestro_nb._fanout import split_value

TAKES_INPUT = "maestro_input = None"


def build(folder: Path) -> maestro_nb.Schedule:
    return maestro_nb.build_schedule(folder, quiet=True, output_dir=folder / "runs")


def errors_of(schedule: maestro_nb.Schedule) -> dict[str, str]:
    return {e.pipe_name: e.message for e in schedule.build_errors}


def test_dag_build_errors_name_the_notebooks_and_spare_the_rest(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "extract", {}, "")
    write_pipeline(tmp_path, "fine", {"inputs": "extract"}, TAKES_INPUT)
    write_pipeline(tmp_path, "selfish", {"inputs": "selfish"}, TAKES_INPUT)
    write_pipeline(tmp_path, "typo", {"inputs": "extrct"}, TAKES_INPUT)
    write_pipeline(tmp_path, "ring_a", {"inputs": "ring_c"}, TAKES_INPUT)
    write_pipeline(tmp_path, "ring_b", {"inputs": "ring_a"}, TAKES_INPUT)
    write_pipeline(tmp_path, "ring_c", {"inputs": "ring_b"}, TAKES_INPUT)
    write_pipeline(tmp_path, "after_ring", {"inputs": "ring_c"}, TAKES_INPUT)
    write_pipeline(tmp_path, "deaf", {"inputs": "extract"}, "x = 1")
    write_pipeline(tmp_path, "via_outputs", {"outputs": "deaf_too"}, "")
    write_pipeline(tmp_path, "deaf_too", {}, "")

    schedule = build(tmp_path)
    errors = errors_of(schedule)

    assert set(schedule.pipelines) == {"extract", "fine", "via_outputs"}
    assert schedule.pipeline("via_outputs").outputs == ()
    assert "selfish.ipynb" in errors["selfish"] and "names itself" in errors["selfish"]
    assert "no pipeline named 'extrct'" in errors["typo"]
    assert "did you mean 'extract'" in errors["typo"]
    for name in ("ring_a", "ring_b", "ring_c"):
        assert "cycle" in errors[name]
    assert "ring_a -> ring_b -> ring_c -> ring_a" in errors["ring_a"]
    assert "downstream of 'ring_" in errors["after_ring"]
    assert "'maestro_input'" in errors["deaf"] and "deaf.ipynb" in errors["deaf"]
    assert "downstream of via_outputs" in errors["deaf_too"]
    assert schedule.build_warnings == []


def test_schedule_tags_on_a_downstream_pipeline_are_a_printed_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_pipeline(tmp_path, "up", {}, "")
    tags = {"inputs": "up", "frequency": "1 hour", "startTime": "12:00:00"}
    write_pipeline(tmp_path, "down", tags, TAKES_INPUT)

    schedule = maestro_nb.build_schedule(tmp_path, output_dir=tmp_path / "runs")

    assert set(schedule.pipelines) == {"up", "down"}
    assert len(schedule.build_warnings) == 1
    assert "frequency, startTime are ignored" in schedule.build_warnings[0]
    assert "build warning:" in capsys.readouterr().out


def test_a_reference_to_a_notebook_that_failed_to_build_says_so(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "broken", {"frequency": "sometimes"}, "")
    write_pipeline(tmp_path, "down", {"inputs": "broken"}, TAKES_INPUT)

    errors = errors_of(build(tmp_path))

    assert "'broken' did not build" in errors["down"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("maestro_input is not None", True),
        ("len(maestro_input['rows']) > 2", False),
        ("resources.get('mode') == 'full'", True),
        ("any(x > 1 for x in maestro_input['rows'])", True),
    ],
    ids=["is-not-none", "len", "method-call", "generator"],
)
def test_run_if_verdicts(expression: str, expected: bool) -> None:
    value = {"rows": [1, 2]}
    assert evaluate_run_if(expression, {"mode": "full"}, value) is expected


@pytest.mark.parametrize(
    ("expression", "match"),
    [
        ("maestro_input.__class__", "attribute '__class__'"),
        ("open('/etc/passwd')", "unknown name 'open'"),
        ("__import__('os')", "unknown name '__import__'"),
        ("'{0.__class__}'.format(1)", "attribute 'format'"),
        ("(lambda: 1)()", "Lambda is not allowed"),
        ("2 ** 1000000", "Pow is not allowed"),
        ("maestro_input['missing']", "KeyError"),
        ("len(maestro_input)", r"returned 1 \(int\), not True or False"),
    ],
    ids=["dunder", "open", "import", "format", "lambda", "pow", "raises", "non-bool"],
)
def test_run_if_refusals(expression: str, match: str) -> None:
    with pytest.raises(ConditionError, match=match):
        evaluate_run_if(expression, {}, {"a": 1})


def test_map_splits_lists_frames_dicts_and_zips_fields_with_recycling() -> None:
    import pandas as pd

    assert split_value((1, 2), ()) == [1, 2]
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert split_value(frame, ()) == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert split_value({"k": 1, "j": 2}, ()) == [("k", 1), ("j", 2)]
    zipped = split_value({"ids": [1, 2], "tag": ["t"], "n": 5}, ("ids", "tag", "n"))
    assert zipped == [{"ids": 1, "tag": "t", "n": 5}, {"ids": 2, "tag": "t", "n": 5}]
    assert split_value(frame, ("b",)) == [
        {"a": [1, 2], "b": "x"},
        {"a": [1, 2], "b": "y"},
    ]
    with pytest.raises(FanOutError, match="ids has 2, tag has 3"):
        split_value({"ids": [1, 2], "tag": [1, 2, 3]}, ("ids", "tag"))
    with pytest.raises(FanOutError, match="no field 'nope'"):
        split_value({"ids": [1]}, ("nope",))
    with pytest.raises(FanOutError, match="cannot split a str"):
        split_value("abc", ())
