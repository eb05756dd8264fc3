"""Running pipelines elsewhere: on a Dask cluster, or on any executor.

``run_schedule(..., executor="dask", dask_address="tcp://host:8786")`` sends
each run to a Dask cluster; ``executor=`` also takes a ``distributed.Client``
or any :class:`concurrent.futures.Executor`. The orchestrator keeps every
decision (the schedule, the DAG, ``runIf``, ``map``) and sends a worker one
whole run at a time: the worker starts a kernel, runs the notebook with
papermill and returns the run's record. ``workers`` still bounds how many
runs are out at once.

The worker writes the executed notebook, the artifact and the run's other
files under ``output_dir`` itself, and the orchestrator (and the next
pipeline downstream) reads them from there. So the project folder and the
output folder must be at the same absolute paths on every machine (a shared
filesystem), with the same Python environment (maestro_nb, the notebooks'
packages and their kernels).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from ._execution import execute_pipeline
from ._handoff import Handoff
from ._status import RunRecord
from ._tags import PipelineSpec

__all__ = ["ExecutorChoice", "RemoteRunner", "remote_runner"]

ExecutorChoice = str | Executor | Any | None
LOCAL = "local"
DASK = "dask"


class RemoteRunner:
    """Runs one pipeline on an executor and waits for its record.

    It is called like :func:`execute_pipeline`, from the dispatcher's own
    threads, so the DAG logic does not change: each thread waits on one
    remote run instead of a local kernel.
    """

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def __call__(
        self,
        spec: PipelineSpec,
        output_dir: Path,
        *,
        resources: dict[str, object] | None = None,
        scheduled_time: datetime | None = None,
        handoff: Handoff | None = None,
        **_: object,
    ) -> RunRecord:
        """Run the pipeline remotely; return its record, paths as the caller gave.

        Raises:
            Exception: whatever kept the run from starting or its worker from
                answering (a lost worker, an unpicklable resource).
        """
        remote_spec = dataclasses.replace(spec, path=spec.path.resolve())
        arguments = {
            "spec": remote_spec,
            "output_dir": output_dir.resolve(),
            "resources": resources,
            "scheduled_time": scheduled_time,
            "handoff": handoff,
        }
        record: RunRecord = self.executor.submit(run_remotely, arguments).result()
        record.notebook = spec.path
        return record


# TODO: a Dask worker starts each run's kernel only when the run arrives,
# so remote runs pay the full kernel start-up that local runs hide behind
# kernels started ahead; a per-worker pool would remove that.
def run_remotely(arguments: dict[str, Any]) -> RunRecord:
    """Run one pipeline where this is called (a Dask worker); the remote entry.

    The arguments travel as one dict: ``resources`` would otherwise collide
    with the keyword Dask's ``submit`` takes for worker resources.
    """
    return execute_pipeline(**arguments)


@contextmanager
def remote_runner(
    executor: ExecutorChoice, dask_address: str | None
) -> Iterator[RemoteRunner | None]:
    """Yield the runner for ``executor``, or None for the local kernel pool.

    Args:
        executor: ``None`` or ``"local"`` (this machine), ``"dask"`` (a
            cluster at ``dask_address``), a ``distributed.Client`` or a
            :class:`concurrent.futures.Executor`.
        dask_address: the Dask scheduler, ``"tcp://host:8786"``; giving it
            alone means ``executor="dask"``.

    Raises:
        ValueError: an unknown executor name, or ``"dask"`` without address.
        TypeError: an executor of another kind.
        ImportError: Dask is asked for but not installed.
    """
    if executor is None and dask_address is not None:
        executor = DASK

    if executor is None or executor == LOCAL:
        yield None
    elif executor == DASK:
        with _dask_client(dask_address) as client:
            yield RemoteRunner(client.get_executor(pure=False))
    elif isinstance(executor, Executor):
        yield RemoteRunner(executor)
    elif _is_dask_client(executor):
        yield RemoteRunner(cast(Any, executor).get_executor(pure=False))
    elif isinstance(executor, str):
        raise ValueError(
            f"executor must be 'local' or 'dask' (or an Executor), not {executor!r}"
        )
    else:
        raise TypeError(
            "executor must be 'local', 'dask', a distributed.Client or a "
            f"concurrent.futures.Executor, not {type(executor).__name__}"
        )


@contextmanager
def _dask_client(address: str | None) -> Iterator[Any]:
    if not address:
        raise ValueError(
            "executor='dask' needs dask_address, the scheduler's address "
            "('tcp://host:8786')"
        )

    try:
        from distributed import Client
    except ImportError as error:
        raise ImportError(
            "executor='dask' needs Dask: pip install 'dask[distributed]'"
        ) from error

    client = Client(address, set_as_default=False)  # type: ignore[no-untyped-call]
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]


def _is_dask_client(value: object) -> bool:
    kind = type(value)
    return kind.__module__.startswith("distributed") and kind.__name__ == "Client"
