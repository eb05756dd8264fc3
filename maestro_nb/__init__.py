"""maestro_nb: schedule parameterized Jupyter notebooks without a server.

Pipelines are notebooks whose first cell carries ``maestro`` tags;
:func:`build_schedule` reads them, :func:`check_schedule` says what is due and
:func:`run_schedule` runs it with papermill.
"""

from __future__ import annotations

from ._exceptions import (
    FrequencyError,
    MaestroError,
    PipelineNotFoundError,
    PipelineRunError,
    ScheduleBuildError,
    TagError,
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
    "PipelineNotFoundError",
    "PipelineRunError",
    "Schedule",
    "ScheduleBuildError",
    "TagError",
    "build_schedule",
    "check_schedule",
    "get_run_sequence",
    "get_schedule",
    "last_build_errors",
]
