"""Runs on a real Dask cluster: worker processes on loopback, one thread each.

The same end-to-end checks as the local executor: the sample project with
``run_all``, a DAG with a ``map`` and a ``collect``, and a failing notebook.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from notebook_factory import OUT, TAKES, write_map_collect_dag, write_pipeline

import maestro_nb

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.usefixtures("python3_kernel")

REPO = Path(__file__).resolve().parents[1]
WEATHER_TYPES = ["drizzle", "fog", "rain", "snow", "sun"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    """Two worker processes with one thread each, on loopback, no dashboard."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as local:
        yield local


@pytest.fixture
def client(cluster: object) -> Iterator[object]:
    with distributed.Client(cluster, set_as_default=False) as connected:
        yield connected


def test_sample_project_end_to_end_on_dask(cluster: object, tmp_path: Path) -> None:
    for name in ("pipelines", "data"):
        shutil.copytree(REPO / name, tmp_path / name)

    schedule = maestro_nb.build_schedule(tmp_path / "pipelines", quiet=True)
    maestro_nb.run_schedule(
        schedule,
        run_all=True,
        workers=2,
        quiet=True,
        resources={"simulated_latency_s": 0.2},
        output_dir=tmp_path / "runs",
        executor="dask",
        dask_address=cluster.scheduler_address,  # type: ignore[attr-defined]
    )

    status = schedule.get_status().set_index("pipe_name")
    assert (status["status"] == "completed").all(), schedule.last_run_errors()
    artifacts = schedule.get_artifacts()
    assert artifacts["clean_weather"]["rows"] == 1461
    assert isinstance(artifacts["monthly_summary"], pd.DataFrame)
    assert [p["weather"] for p in artifacts["weather_profile"]] == WEATHER_TYPES
    assert sorted(artifacts["weather_summary"].index) == WEATHER_TYPES
    assert schedule.last_run_messages()["monthly_summary"][0].startswith(
        "INFO monthly_summary: wettest month"
    )
    for notebook in status["output_notebook"]:
        assert Path(notebook).is_relative_to(tmp_path / "runs")
        assert Path(notebook).stat().st_size > 0


def test_dag_on_a_client_runs_downstream_after_upstream(
    client: object, tmp_path: Path
) -> None:
    write_map_collect_dag(tmp_path)
    schedule = maestro_nb.build_schedule(tmp_path, quiet=True)

    maestro_nb.run_schedule(
        schedule,
        run_all=True,
        workers=2,
        quiet=True,
        output_dir=tmp_path / "runs",
        executor=client,
    )

    status = schedule.get_status()
    divide = status[status["pipe_name"] == "divide"]
    assert list(divide["status"]) == ["completed", "failed", "completed"]
    assert "divide[1]" in schedule.last_run_errors()
    assert schedule.get_artifacts()["total"] == [3, 6]
    numbers = status[status["pipe_name"] == "numbers"].iloc[0]
    assert (divide["started"] >= numbers["ended"]).all()


def test_a_failing_notebook_fails_alone_on_dask(
    cluster: object, tmp_path: Path
) -> None:
    write_pipeline(tmp_path, "fine", {}, "", [OUT.format("'ok'")])
    write_pipeline(tmp_path, "broken", {}, "", ["1 / 0"])
    write_pipeline(
        tmp_path, "after_broken", {"inputs": "broken"}, TAKES, [OUT.format("1")]
    )
    schedule = maestro_nb.build_schedule(tmp_path, quiet=True)

    maestro_nb.run_schedule(
        schedule,
        run_all=True,
        workers=2,
        quiet=True,
        output_dir=tmp_path / "runs",
        dask_address=cluster.scheduler_address,  # type: ignore[attr-defined]
    )

    status = schedule.get_status().set_index("pipe_name")
    assert status.loc["fine", "status"] == "completed"
    assert status.loc["broken", "status"] == "failed"
    assert status.loc["after_broken", "status"] == "upstream_failed"
    report = schedule.last_run
    assert report is not None
    failed = [record.error for record in report.records if record.error]
    assert len(failed) == 1 and failed[0] is not None
    assert failed[0].ename == "ZeroDivisionError"
    assert failed[0].cell_index is not None
    assert failed[0].output_notebook is not None
    assert failed[0].output_notebook.exists()


def test_any_executor_and_bad_choices(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "fine", {}, "", [OUT.format("'ok'")])
    schedule = maestro_nb.build_schedule(tmp_path, quiet=True)

    with ThreadPoolExecutor(1) as executor:
        maestro_nb.run_schedule(
            schedule, run_all=True, quiet=True, output_dir=tmp_path / "runs",
            executor=executor,
        )  # fmt: skip

    assert schedule.get_artifacts() == {"fine": "ok"}
    with pytest.raises(ValueError, match="'local' or 'dask'"):
        maestro_nb.run_schedule(schedule, run_all=True, quiet=True, executor="ray")

    with pytest.raises(ValueError, match="needs dask_address"):
        maestro_nb.run_schedule(schedule, run_all=True, quiet=True, executor="dask")

    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        maestro_nb.run_schedule(schedule, run_all=True, quiet=True, executor=42)
