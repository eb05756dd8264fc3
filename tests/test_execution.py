from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from notebook_factory import write_pipeline

from maestro_nb._execution import RunFiles, execute_pipeline
from maestro_nb._status import RunState
from maestro_nb._tags import PipelineSpec, parse_tags

pytestmark = pytest.mark.usefixtures("python3_kernel")

SLOT = datetime(2024, 3, 10, 12, 0, tzinfo=timezone.utc)


def spec_for(path: Path, declared: frozenset[str] | None) -> PipelineSpec:
    return parse_tags({}, name=path.stem, path=path, declared_parameters=declared)


def injected_source(notebook: Path) -> str:
    cells = nbformat.read(notebook, as_version=4).cells
    injected = [c for c in cells if "injected-parameters" in c.metadata.get("tags", [])]
    return injected[0].source if injected else ""


def test_run_injects_only_declared_parameters_and_collects_everything(
    tmp_path: Path,
) -> None:
    params = "alpha = 1\nmaestro_run_id = None\nmaestro_scheduled_time = None"
    body = (
        "import logging, warnings\n"
        "import pandas as pd\n"
        "import maestro_nb\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "warnings.warn('careful')\n"
        "logging.getLogger('pipe').warning('odd value')\n"
        "logging.getLogger('pipe').info('step done')\n"
        "maestro_nb.output(pd.DataFrame({'alpha': [alpha], 'run': [maestro_run_id],"
        " 'slot': [maestro_scheduled_time]}))"
    )
    path = write_pipeline(tmp_path / "pipelines", "full", {}, params, [body])
    spec = spec_for(
        path, frozenset({"alpha", "maestro_run_id", "maestro_scheduled_time"})
    )

    record = execute_pipeline(
        spec, tmp_path / "runs", resources={"alpha": 5, "beta": 7}, scheduled_time=SLOT
    )

    assert record.state is RunState.COMPLETED, record.error
    assert record.output_notebook is not None
    assert record.output_notebook.parent == tmp_path / "runs" / "full"
    injected = injected_source(record.output_notebook)
    assert "alpha = 5" in injected
    assert "beta" not in injected
    assert record.has_artifact
    artifact = record.artifact
    assert isinstance(artifact, pd.DataFrame)
    assert artifact.to_dict("records") == [
        {"alpha": 5, "run": record.run_id, "slot": "2024-03-10T12:00:00+00:00"}
    ]
    assert record.warnings == ["UserWarning: careful", "WARNING pipe: odd value"]
    assert record.messages == ["INFO pipe: step done"]
    assert record.duration is not None and record.duration > 0


def test_parameters_cell_found_by_papermill_when_not_first(tmp_path: Path) -> None:
    path = tmp_path / "late.ipynb"
    notebook = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("maestro_run_id = None")
    params.metadata["tags"] = ["parameters"]
    notebook.cells = [
        nbformat.v4.new_markdown_cell("first", metadata={"maestro": {}}),
        params,
        nbformat.v4.new_code_cell(
            "import maestro_nb\nmaestro_nb.output(maestro_run_id)"
        ),
    ]
    nbformat.write(notebook, path)

    record = execute_pipeline(spec_for(path, None), tmp_path / "runs")

    assert record.state is RunState.COMPLETED, record.error
    assert record.artifact == record.run_id


def test_failing_notebook_keeps_structured_error_and_executed_notebook(
    tmp_path: Path,
) -> None:
    cells = ["x = 2", "def boom():\n    return 1 / 0", "boom()", "print('never')"]
    path = write_pipeline(tmp_path, "bad", {}, "", cells)

    record = execute_pipeline(spec_for(path, frozenset()), tmp_path / "runs")

    assert record.state is RunState.FAILED
    error = record.error
    assert error is not None
    assert error.ename == "ZeroDivisionError"
    assert error.evalue == "division by zero"
    assert error.cell_index == 3
    assert error.traceback and not any("\x1b[" in line for line in error.traceback)
    assert "boom()" in "\n".join(error.traceback)
    assert record.output_notebook is not None and record.output_notebook.exists()
    assert error.output_notebook == record.output_notebook
    executed = nbformat.read(record.output_notebook, as_version=4)
    outputs = [o for c in executed.cells for o in c.get("outputs", [])]
    assert any(o.get("ename") == "ZeroDivisionError" for o in outputs)


def test_same_pipeline_twice_in_one_second_never_overwrites(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, "quick", {}, "", ["print('hi')"])
    spec = spec_for(path, frozenset())

    first = execute_pipeline(spec, tmp_path / "runs")
    second = execute_pipeline(spec, tmp_path / "runs")

    assert first.output_notebook != second.output_notebook
    assert first.run_id != second.run_id
    assert first.output_notebook is not None and first.output_notebook.exists()
    assert second.output_notebook is not None and second.output_notebook.exists()


def test_reserved_run_files_are_unique_at_the_same_instant(tmp_path: Path) -> None:
    reserved = [RunFiles.reserve(tmp_path, "pipe", SLOT) for _ in range(50)]

    notebooks = {files.notebook for files in reserved}
    assert len(notebooks) == 50
    assert all(n.name.startswith("20240310T120000Z_") for n in notebooks)
    assert {files.run_id for files in reserved} == {
        n.stem.split("_", 1)[1] for n in notebooks
    }


def test_kernel_starts_in_the_notebook_folder(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines" / "nested"
    (folder / "input.json").parent.mkdir(parents=True)
    (folder / "input.json").write_text(json.dumps({"n": 3}))
    cells = [
        "import json, maestro_nb\nmaestro_nb.output(json.load(open('input.json')))"
    ]
    path = write_pipeline(folder, "reads_relative", {}, "", cells)

    record = execute_pipeline(spec_for(path, frozenset()), tmp_path / "runs")

    assert record.state is RunState.COMPLETED, record.error
    assert record.artifact == {"n": 3}
