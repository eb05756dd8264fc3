from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest
from notebook_factory import write_pipeline

import maestro_nb
from maestro_nb._authoring import set_tags, template_text

REPO = Path(__file__).resolve().parent.parent


def test_orchestrator_template_is_the_projects_orchestrator() -> None:
    shipped = template_text("orchestrator.ipynb")
    project = (REPO / "orchestrator.ipynb").read_text(encoding="utf-8")
    assert shipped == project, (
        "maestro_nb/templates/orchestrator.ipynb differs from orchestrator.ipynb; "
        "copy the project's notebook over the template"
    )


def test_create_maestro_lays_out_a_project_that_builds(tmp_path: Path) -> None:
    project = maestro_nb.create_maestro(tmp_path / "new")

    names = sorted(p.relative_to(project).as_posix() for p in project.rglob("*"))
    assert names == [
        "README.md",
        "orchestrator.ipynb",
        "pipelines",
        "pipelines/example_pipeline.ipynb",
        "requirements.txt",
        "runs",
    ]
    schedule = maestro_nb.build_schedule(project / "pipelines", quiet=True)
    assert list(schedule.pipelines) == ["example_pipeline"]
    assert schedule.build_errors == []


def test_create_maestro_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("mine", encoding="utf-8")

    with pytest.raises(FileExistsError, match=r"README\.md already exists"):
        maestro_nb.create_maestro(tmp_path)

    assert not (tmp_path / "orchestrator.ipynb").exists()
    maestro_nb.create_maestro(tmp_path, overwrite=True)
    assert (tmp_path / "README.md").read_text(encoding="utf-8") != "mine"


def test_create_pipeline_writes_valid_tags_and_a_kernelspec(tmp_path: Path) -> None:
    path = maestro_nb.create_pipeline(
        "prices",
        tmp_path,
        frequency="15 minutes",
        tz="Europe/Paris",
        hours=[8, 9, 10],
        flags=["etl"],
    )

    notebook = nbformat.read(path, as_version=4)
    first = notebook.cells[0]
    assert first.metadata["tags"] == ["parameters"]
    assert first.metadata["maestro"] == {
        "frequency": "15 minutes",
        "tz": "Europe/Paris",
        "hours": [8, 9, 10],
        "flags": ["etl"],
    }
    assert "maestro_scheduled_time = None" in first.source
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert "prices" in notebook.cells[1].source
    with pytest.raises(FileExistsError, match="prices.ipynb"):
        maestro_nb.create_pipeline("prices", tmp_path)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"frequency": "1 fortnight"}, "frequency"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"start_time": "25:00:00"}, "startTime"),
    ],
    ids=["unknown-unit", "unknown-zone", "hour-out-of-range"],
)
def test_create_pipeline_refuses_invalid_tags(
    tmp_path: Path, options: dict[str, str], match: str
) -> None:
    with pytest.raises(maestro_nb.TagError, match=match):
        maestro_nb.create_pipeline("bad", tmp_path, **options)  # type: ignore[arg-type]

    assert not (tmp_path / "bad.ipynb").exists()


def test_set_tags_merges_validates_and_keeps_the_rest(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, "p", {"frequency": "1 day"}, "x = 1", ["y = 2"])
    before = nbformat.read(path, as_version=4)

    set_tags(path, {"startTime": "06:00:00", "tz": "America/Halifax"})
    with pytest.raises(maestro_nb.TagError, match="tz"):
        set_tags(path, {"tz": "Nowhere/Else"})

    after = nbformat.read(path, as_version=4)
    assert after.cells[0].metadata["maestro"] == {
        "frequency": "1 day",
        "startTime": "06:00:00",
        "tz": "America/Halifax",
    }
    assert [c.source for c in after.cells] == [c.source for c in before.cells]
    assert after.metadata == before.metadata


@pytest.mark.usefixtures("python3_kernel")
def test_a_percent_py_pipeline_runs_like_its_ipynb_twin(tmp_path: Path) -> None:
    body = (
        "import maestro_nb\n"
        "maestro_nb.output({'x': x * 2, 'run': bool(maestro_run_id)})"
    )
    source = write_pipeline(
        tmp_path / "src",
        "twin",
        {"frequency": "1 day"},
        "x = 1\nmaestro_run_id = None",
        [body],
    )
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "twin_ipynb.ipynb").write_bytes(source.read_bytes())
    jupytext.write(
        nbformat.read(source, as_version=4), pipelines / "twin_py.py", fmt="py:percent"
    )
    assert "# %%" in (pipelines / "twin_py.py").read_text(encoding="utf-8")

    schedule = maestro_nb.build_schedule(
        pipelines, quiet=True, output_dir=tmp_path / "runs"
    )
    assert schedule.build_errors == []
    check = maestro_nb.check_schedule(schedule, "1 day", "2024-01-03T00:00:00Z")
    assert check.set_index("pipe_name")["is_due"].to_dict() == {
        "twin_ipynb": True,
        "twin_py": True,
    }
    maestro_nb.run_schedule(
        schedule,
        check_datetime="2024-01-03T00:00:00Z",
        resources={"x": 21},
        workers=2,
        quiet=True,
        output_dir=tmp_path / "runs",
    )

    assert schedule.get_artifacts() == {
        "twin_ipynb": {"x": 42, "run": True},
        "twin_py": {"x": 42, "run": True},
    }
    assert not list((tmp_path / "runs").rglob("*.source.ipynb"))
