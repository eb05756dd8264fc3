"""The orchestrator notebook as schedulers run it: papermill, cron, nbconvert."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from notebook_factory import write_pipeline

pytestmark = pytest.mark.usefixtures("python3_kernel")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_PIPELINES = ("clean_weather", "monthly_summary", "weather_chart")
# What every kernel prints on start; it must stay out of the orchestrator's page.
KERNEL_NOISE = ("without encryption", "Connection file", "IPKernelApp")


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    for name in ("pipelines", "data"):
        shutil.copytree(REPO / name, project / name)

    shutil.copy(REPO / "orchestrator.ipynb", project / "orchestrator.ipynb")
    return project


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("MAESTRO_PROJECT_DIR", "MAESTRO_OUTPUT_DIR", "MAESTRO_CHECK_DATETIME"):
        env.pop(name, None)

    return env


def _outputs(notebook: Path) -> list[dict[str, object]]:
    executed = nbformat.read(notebook, as_version=4)
    return [output for cell in executed.cells for output in cell.get("outputs", [])]


def test_papermill_from_another_folder_with_project_dir(
    sample: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "cron_home"
    elsewhere.mkdir()
    out = elsewhere / "orchestrator.ipynb"
    command = [
        sys.executable,
        "-m",
        "papermill",
        str(REPO / "orchestrator.ipynb"),
        str(out),
        "-p",
        "project_dir",
        str(sample),
        "-p",
        "run_all",
        "True",
        "--log-output",
        "--no-progress-bar",
    ]

    result = subprocess.run(
        command, cwd=elsewhere, capture_output=True, text=True, env=_clean_env()
    )

    assert result.returncode == 0, result.stderr[-3000:]
    # --log-output echoes the page's text form: one line per pipeline.
    for name in SAMPLE_PIPELINES:
        assert f"succeeded {name}" in result.stderr
        assert any((sample / "runs" / name).glob("*.ipynb"))

    succeeded = re.search(r"(\d+) succeeded, 0 failed", result.stderr)
    assert succeeded is not None
    log = (sample / "runs" / "maestro.log").read_text()
    assert log.count(" completed in ") == int(succeeded.group(1))
    assert (sample / "runs" / "summary.html").exists()
    assert not (elsewhere / "runs").exists()


def test_executed_orchestrator_shows_the_page_and_no_kernel_noise(
    sample: Path,
) -> None:
    out = sample / "runs" / "orchestrator.ipynb"
    out.parent.mkdir()
    command = [
        sys.executable,
        "-m",
        "papermill",
        "orchestrator.ipynb",
        str(out),
        "-p",
        "run_all",
        "True",
        "-p",
        "workers",
        "3",
    ]

    result = subprocess.run(
        command, cwd=sample, capture_output=True, text=True, env=_clean_env()
    )

    assert result.returncode == 0, result.stderr[-3000:]
    outputs = _outputs(out)
    assert [o["output_type"] for o in outputs] == ["execute_result"]
    page = outputs[0]["data"]["text/html"]  # type: ignore[index]
    assert 'class="maestro-summary"' in page
    text = str(outputs)
    for noise in KERNEL_NOISE:
        assert noise not in text


def test_nbconvert_with_the_defaults_alone_as_posit_connect_runs_it(
    sample: Path,
) -> None:
    # Connect renders with nbconvert, passing no parameters; the clock decides.
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "nbconvert",
        "--to",
        "html",
        "--execute",
        "--no-input",
        "orchestrator.ipynb",
    ]
    env = _clean_env() | {"POSIT_PRODUCT": "CONNECT"}
    env["MAESTRO_OUTPUT_DIR"] = str(sample.parent / "persistent")

    result = subprocess.run(
        command, cwd=sample, capture_output=True, text=True, env=env
    )

    assert result.returncode == 0, result.stderr[-3000:]
    page = (sample / "orchestrator.html").read_text()
    assert 'class="maestro-summary"' in page
    assert "Next runs" in page and "data:image/png;base64," in page
    assert "maestro_nb.project_paths" not in page  # no input cells
    assert (sample.parent / "persistent" / "summary.html").exists()
    assert not (sample / "runs").exists()


def test_a_failed_pipeline_fails_the_run_for_cron(sample: Path) -> None:
    write_pipeline(sample / "pipelines", "broken", {}, "", ["1 / 0"])
    command = [
        sys.executable,
        "-m",
        "papermill",
        str(sample / "orchestrator.ipynb"),
        str(sample / "out.ipynb"),
        "-p",
        "run_all",
        "True",
        "-p",
        "project_dir",
        str(sample),
    ]

    result = subprocess.run(command, capture_output=True, text=True, env=_clean_env())

    assert result.returncode == 1
    assert "PipelineRunError" in result.stderr
    page = (sample / "runs" / "summary.html").read_text()
    assert "ZeroDivisionError" in page and "<details" in page
