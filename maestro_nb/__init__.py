"""maestro_nb: schedule parameterized Jupyter notebooks without a server.

Pipelines are notebooks whose first cell carries ``maestro`` tags;
:func:`build_schedule` reads them, :func:`check_schedule` says what is due and
:func:`run_schedule` runs it with papermill; inside a pipeline,
:func:`output` hands a value back to the orchestrator.
"""

from __future__ import annotations

from ._exceptions import (
    FrequencyError,
    MaestroError,
    PipelineExecutionError,
    PipelineNotFoundError,
    PipelineRunError,
    ScheduleBuildError,
    TagError,
)
from ._results import output, run_dir
from ._runner import (
    get_artifacts,
    get_status,
    last_run_errors,
    last_run_messages,
    last_run_warnings,
    run_schedule,
)
from ._schedule import (
    BuildError,
    Schedule,
    build_schedule,
    check_schedule,
    get_run_sequence,
    get_schedule,
    last_build_errors,
)

__all__ = [
    "BuildError",
    "FrequencyError",
    "MaestroError",
    "PipelineExecutionError",
    "PipelineNotFoundError",
    "PipelineRunError",
    "Schedule",
    "ScheduleBuildError",
    "TagError",
    "build_schedule",
    "check_schedule",
    "get_artifacts",
    "get_run_sequence",
    "get_schedule",
    "get_status",
    "last_build_errors",
    "last_run_errors",
    "last_run_messages",
    "last_run_warnings",
    "output",
    "run_dir",
    "run_schedule",
]
