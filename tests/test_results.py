from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import maestro_nb
from maestro_nb._capture import read_events
from maestro_nb._results import ARTIFACT_ENV, RUN_DIR_ENV, read_artifact


def test_output_outside_a_run_returns_the_value_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ARTIFACT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    value = {"a": 1}

    assert maestro_nb.output(value) is value
    assert list(tmp_path.iterdir()) == []


def test_json_value_round_trips_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "run.artifact"
    monkeypatch.setenv(ARTIFACT_ENV, str(base))
    maestro_nb.output({"rows": 3, "names": ["a", "b"], "ok": True, "none": None})

    assert (tmp_path / "run.artifact.json").exists()
    assert read_artifact(base) == (
        True,
        {"rows": 3, "names": ["a", "b"], "ok": True, "none": None},
    )


@pytest.mark.parametrize(
    "value",
    [("a", 1), {1: "int key"}, float("nan")],
    ids=["tuple", "int-keys", "nan"],
)
def test_values_json_would_change_are_pickled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: object
) -> None:
    base = tmp_path / "run.artifact"
    monkeypatch.setenv(ARTIFACT_ENV, str(base))
    maestro_nb.output(value)

    assert (tmp_path / "run.artifact.pickle").exists()
    assert not (tmp_path / "run.artifact.json").exists()
    found, back = read_artifact(base)
    assert found
    assert repr(back) == repr(value)


def test_dataframe_round_trips_with_dtypes_and_zones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "run.artifact"
    monkeypatch.setenv(ARTIFACT_ENV, str(base))
    frame = pd.DataFrame(
        {
            "when": pd.date_range("2024-03-10", periods=3, freq="h", tz="UTC"),
            "value": [1.5, 2.5, None],
        }
    )
    maestro_nb.output(frame)

    found, back = read_artifact(base)
    assert found
    pd.testing.assert_frame_equal(back, frame)


def test_a_later_output_replaces_the_earlier_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "run.artifact"
    monkeypatch.setenv(ARTIFACT_ENV, str(base))
    maestro_nb.output(("first",))
    maestro_nb.output("second")

    assert read_artifact(base) == (True, "second")
    assert not (tmp_path / "run.artifact.pickle").exists()


def test_no_artifact_reads_as_absent(tmp_path: Path) -> None:
    assert read_artifact(tmp_path / "none.artifact") == (False, None)


def test_run_dir_is_the_runs_folder_in_a_run_and_a_temp_folder_by_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path / "files"))
    assert maestro_nb.run_dir() == tmp_path / "files"
    assert (tmp_path / "files").is_dir()

    monkeypatch.delenv(RUN_DIR_ENV)
    by_hand = maestro_nb.run_dir()
    assert by_hand.is_dir()
    assert not by_hand.is_relative_to(tmp_path)
    assert maestro_nb.run_dir() == by_hand


def test_events_file_sorts_warnings_from_messages(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"kind": "warning", "text": "UserWarning: w"}\n'
        '{"kind": "message", "text": "INFO a: m"}\n'
        "not json\n"
    )

    assert read_events(path) == (["UserWarning: w"], ["INFO a: m"])
    assert read_events(tmp_path / "missing.jsonl") == ([], [])
