"""Every kind of bad pipeline file yields one clear build error; the rest runs.

Each row drops one bad file into a project that also holds two good
pipelines. The bad file must be reported by name with a message saying what
is wrong; the good pipelines must still be scheduled.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from notebook_factory import write_pipeline

import maestro_nb


def _raw(content: bytes) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / "bad.ipynb"
        path.write_bytes(content)
        return path

    return write


def _tags(tags: object) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        return write_pipeline(folder, "bad", tags)  # type: ignore[arg-type]

    return write


def _first_cell(cell: Any) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        notebook = nbformat.v4.new_notebook()
        notebook.cells.append(cell)
        notebook.metadata["kernelspec"] = {"name": "python3", "language": "python"}
        path = folder / "bad.ipynb"
        nbformat.write(notebook, path)
        return path

    return write


def _kernel(kernelspec: dict[str, str] | None) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = write_pipeline(folder, "bad", {"frequency": "1 day"})
        notebook = nbformat.read(path, as_version=4)
        if kernelspec is None:
            del notebook.metadata["kernelspec"]
        else:
            notebook.metadata["kernelspec"] = kernelspec
        nbformat.write(notebook, path)
        return path

    return write


def _named(name: str) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        return write_pipeline(folder, name, {"frequency": "1 day"})

    return write


def _cut_short(folder: Path) -> Path:
    path = write_pipeline(folder, "bad", {"frequency": "1 day"}, cells=["x = 1"] * 20)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) * 2 // 3], encoding="utf-8")
    return path


def _duplicate(folder: Path) -> Path:
    return write_pipeline(folder / "team_b", "good_daily", {"frequency": "1 hour"})


NBFORMAT_3 = json.dumps({"nbformat": 3, "worksheets": [{"cells": []}], "metadata": {}})

CASES = [
    pytest.param(_raw(b"\x00\x01 binary"), "not valid JSON", id="not-json"),
    pytest.param(
        _raw(b'{"cells": [{"cell_type": "code", "met'),
        "not valid JSON",
        id="truncated-json",
    ),
    pytest.param(_raw(b'["a", "list"]'), "nbformat 4", id="json-not-a-notebook"),
    pytest.param(_raw(NBFORMAT_3.encode()), "nbformat 3", id="nbformat-3"),
    pytest.param(_raw(b""), "not valid JSON", id="empty-file"),
    pytest.param(
        _raw(b'{"cells": [], "nbformat": 4, "metadata": {}}'), "no cells", id="no-cells"
    ),
    pytest.param(
        _raw(b'{"cells": [{"source": "\xff\xfe"}]}'), "UTF8", id="non-utf8-bytes"
    ),
    pytest.param(
        _first_cell(nbformat.v4.new_markdown_cell("# Title")),
        "a markdown cell",
        id="first-cell-markdown",
    ),
    pytest.param(
        _first_cell(nbformat.v4.new_raw_cell("raw")), "a raw cell", id="first-cell-raw"
    ),
    pytest.param(_tags(None), "no 'maestro' metadata", id="no-maestro-key"),
    pytest.param(_tags(["1 day"]), "must be a JSON object", id="maestro-a-list"),
    pytest.param(_tags("1 day"), "must be a JSON object", id="maestro-a-string"),
    pytest.param(_tags({"frequency": 5}), "expected a string", id="frequency-number"),
    pytest.param(_tags({"frequency": "often"}), "hourly, daily", id="frequency-word"),
    pytest.param(
        _tags({"startTime": ["12:00"]}), "expected a string", id="start-a-list"
    ),
    pytest.param(_tags({"startTime": "noon"}), "not a start time", id="start-word"),
    pytest.param(_tags({"tz": 1}), "IANA", id="tz-number"),
    pytest.param(_tags({"tz": "Europe/Pariss"}), "unknown time zone", id="tz-typo"),
    pytest.param(
        _tags({"frequency": "1 hour", "hours": {"a": 1}}),
        "list of hours",
        id="hours-object",
    ),
    pytest.param(
        _tags({"frequency": "1 hour", "hours": [24]}), "out of range", id="hours-24"
    ),
    pytest.param(_tags({"days": ["Funday"]}), "three-letter", id="days-name"),
    pytest.param(_tags({"months": "0"}), "out of range", id="months-0"),
    pytest.param(_tags({"skip": "maybe"}), '"true" or "false"', id="skip-word"),
    pytest.param(_tags({"priority": 1.5}), "not an integer", id="priority-float"),
    pytest.param(_tags({"logLevel": 3}), "ERROR, WARN", id="log-level-number"),
    pytest.param(_tags({"flags": [1]}), "non-empty string", id="flags-number"),
    pytest.param(_tags({"labels": ["x"]}), "JSON object", id="labels-list"),
    pytest.param(_tags({"runIf": "1 +"}), "Python expression", id="run-if-syntax"),
    pytest.param(_tags({"map": ["not a field"]}), "identifiers", id="map-field"),
    pytest.param(
        _tags({"frequncy": "1 day"}), "did you mean 'frequency'", id="unknown-tag"
    ),
    pytest.param(_kernel(None), "names no kernel", id="no-kernelspec"),
    pytest.param(
        _kernel({"name": "julia-1.10", "language": "julia"}),
        "'julia-1.10' is not installed",
        id="kernel-not-installed",
    ),
    pytest.param(_named("bad name"), "may hold only", id="name-with-space"),
    pytest.param(_named("-bad"), "must start with", id="name-leading-dash"),
    pytest.param(_named("n" * 101), "keep it to 100", id="name-too-long"),
    pytest.param(_cut_short, "cut short", id="truncated-after-first-cell"),
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "pipelines"
    write_pipeline(folder, "good_daily", {"frequency": "1 day"}, source="x = 1")
    write_pipeline(folder, "good_hourly", {"frequency": "1 hour"}, source="y = 2")
    return folder


@pytest.mark.parametrize(("write_bad", "fragment"), CASES)
def test_bad_pipeline_is_one_clear_error(
    project: Path, write_bad: Callable[[Path], Path], fragment: str
) -> None:
    bad = write_bad(project)

    schedule = maestro_nb.build_schedule(project, quiet=True)

    assert sorted(schedule.pipelines) == ["good_daily", "good_hourly"]
    errors = schedule.last_build_errors()
    assert errors["notebook"].tolist() == [str(bad)]
    assert fragment in errors["message"].iloc[0]
    assert str(bad) in errors["message"].iloc[0]


def test_duplicate_names_across_folders_name_both_files(project: Path) -> None:
    twin = _duplicate(project)

    schedule = maestro_nb.build_schedule(project, quiet=True)

    assert list(schedule.pipelines) == ["good_hourly"]
    messages = " ".join(schedule.last_build_errors()["message"])
    assert str(twin) in messages and str(project / "good_daily.ipynb") in messages


def test_huge_notebook_is_scheduled_from_its_first_cell_alone(project: Path) -> None:
    # 200 MB of output after the first cell: read only the first cell.
    path = write_pipeline(project, "huge", {"frequency": "1 day"})
    text = path.read_text(encoding="utf-8")
    head, tail = text.split("\n  }\n ],\n", 1)
    with path.open("w", encoding="utf-8") as handle:
        handle.write(
            head + '\n  },\n  {"cell_type": "code", "metadata": {}, '
            '"execution_count": 1, "source": "x", "outputs": [{"name": '
            '"stdout", "output_type": "stream", "text": "'
        )
        block = "y" * 1_000_000
        for _ in range(200):
            handle.write(block)
        handle.write('"}]}\n ],\n' + tail)
    assert path.stat().st_size > 200_000_000

    tracemalloc.start()
    schedule = maestro_nb.build_schedule(project, quiet=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert "huge" in schedule.pipelines and schedule.build_errors == []
    assert peak < 20_000_000  # far below the file's 200 MB


def test_the_rest_of_the_schedule_still_runs(project: Path, tmp_path: Path) -> None:
    for index, (write_bad, _) in enumerate(case.values for case in CASES):
        folder = project / f"bad_{index:02d}"
        folder.mkdir()
        write_bad(folder)

    schedule = maestro_nb.build_schedule(project, quiet=True)
    assert len(schedule.build_errors) >= len(CASES) - 1  # names repeat across rows
    schedule = maestro_nb.run_schedule(
        schedule, run_all=True, quiet=True, output_dir=tmp_path / "runs"
    )

    status = schedule.get_status().set_index("pipe_name")
    assert status.loc[["good_daily", "good_hourly"], "success"].tolist() == [True, True]
