from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import maestro_nb
from maestro_nb._deploy import OUTPUT_DIR_ENV, PROJECT_DIR_ENV

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    for name in ("pipelines", "data"):
        shutil.copytree(REPO / name, tmp_path / name)

    shutil.copy(REPO / "orchestrator.ipynb", tmp_path / "orchestrator.ipynb")
    # Leftovers a real project has, which must not be bundled.
    checkpoints = tmp_path / "pipelines" / ".ipynb_checkpoints"
    checkpoints.mkdir()
    (checkpoints / "clean_weather-checkpoint.ipynb").write_text("{}")
    return tmp_path


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"POSIT_PRODUCT": "CONNECT"}, True),
        ({"RSTUDIO_PRODUCT": "CONNECT"}, True),
        ({"CONNECT_CONTENT_GUID": "0a1b"}, True),
        ({"POSIT_PRODUCT": "WORKBENCH"}, False),
    ],
    ids=["laptop", "posit-product", "rstudio-product", "content-guid", "workbench"],
)
def test_posit_connect_is_read_from_the_environment(
    environ: dict[str, str], expected: bool
) -> None:
    assert maestro_nb.on_posit_connect(environ) is expected


def test_project_dir_comes_from_the_argument_then_the_environment(
    tmp_path: Path,
) -> None:
    env = {PROJECT_DIR_ENV: str(tmp_path / "from_env")}

    by_env = maestro_nb.project_paths(environ=env)
    by_arg = maestro_nb.project_paths(tmp_path / "given", environ=env)

    assert by_env.project_dir == tmp_path / "from_env"
    assert by_env.pipeline_dir == tmp_path / "from_env" / "pipelines"
    assert by_env.output_dir == tmp_path / "from_env" / "runs"
    assert by_arg.project_dir == tmp_path / "given"
    assert by_arg.data_dir == tmp_path / "given" / "data"


def test_output_dir_env_moves_outputs_out_of_the_bundle(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    persistent = tmp_path / "persistent"
    connect = {"POSIT_PRODUCT": "CONNECT", OUTPUT_DIR_ENV: str(persistent)}

    paths = maestro_nb.project_paths(tmp_path / "bundle", environ=connect)
    assert paths.output_dir == persistent and persistent.is_dir()
    assert not caplog.records

    maestro_nb.project_paths(tmp_path / "bundle", environ={"POSIT_PRODUCT": "CONNECT"})
    assert OUTPUT_DIR_ENV in caplog.text


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_unwritable_output_dir_falls_back_to_a_temporary_one(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)

    paths = maestro_nb.project_paths(tmp_path, output_dir=locked / "runs", environ={})

    assert not paths.output_dir.is_relative_to(locked)
    assert os.access(paths.output_dir, os.W_OK)


def test_deploy_files_keep_existing_ones_unless_overwritten(sample: Path) -> None:
    (sample / "requirements.txt").write_text("mine\n")

    kept = maestro_nb.write_deploy_files(sample, requirements=["scipy>=1.10"])
    assert kept.written == [sample / ".python-version"]
    assert (sample / "requirements.txt").read_text() == "mine\n"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert (sample / ".python-version").read_text().strip() == version

    replaced = maestro_nb.write_deploy_files(sample, overwrite=True)
    assert sample / "requirements.txt" in replaced.written
    assert (sample / "requirements.txt").read_text().startswith("maestro_nb")


def test_deploy_command_bundles_every_pipeline_and_data_file(sample: Path) -> None:
    files = maestro_nb.write_deploy_files(sample)

    assert files.command[:3] == ["rsconnect", "write-manifest", "notebook"]
    assert "--hide-tagged-input" in files.command
    expected = [
        path.relative_to(sample).as_posix()
        for folder in ("pipelines", "data")
        for path in sorted((sample / folder).rglob("*"))
        if path.is_file() and ".ipynb_checkpoints" not in path.parts
    ]
    assert "pipelines/clean_weather.ipynb" in expected
    assert "data/seattle-weather.csv" in expected
    assert files.extra_files == expected
    assert files.command_line.endswith(" ".join(files.extra_files))


def test_missing_orchestrator_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="orchestrator"):
        maestro_nb.write_deploy_files(tmp_path)


def test_rsconnect_manifest_lists_every_pipeline_and_data_file(sample: Path) -> None:
    pytest.importorskip("rsconnect", reason="rsconnect-python is in the dev extras")
    files = maestro_nb.write_deploy_files(sample)
    command = [sys.executable, "-m", "rsconnect.main", *files.command[1:]]

    result = subprocess.run(
        command, cwd=sample, capture_output=True, text=True, timeout=300
    )

    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((sample / "manifest.json").read_text())
    assert manifest["metadata"]["entrypoint"] == "orchestrator.ipynb"
    assert manifest["jupyter"]["hide_tagged_input"] is True
    bundled = set(manifest["files"])
    assert {"orchestrator.ipynb", "requirements.txt", *files.extra_files} <= bundled
    assert not any(".ipynb_checkpoints" in name for name in bundled)
