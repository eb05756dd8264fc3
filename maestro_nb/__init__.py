"""maestro_nb: schedule parameterized Jupyter notebooks without a server.

Pipelines are notebooks whose first cell carries ``maestro`` tags;
:func:`build_schedule` reads them, :func:`check_schedule` says what is due and
:func:`run_schedule` runs it with papermill; inside a pipeline,
:func:`output` hands a value back to the orchestrator.

Names are imported on first use: a pipeline's kernel that only calls
:func:`output` never pays for pandas and the scheduler.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._authoring import (
        create_maestro as create_maestro,
        create_orchestrator as create_orchestrator,
        create_pipeline as create_pipeline,
    )
    from ._build import build_schedule as build_schedule
    from ._deploy import (
        ProjectPaths as ProjectPaths,
        on_posit_connect as on_posit_connect,
        project_paths as project_paths,
        write_deploy_files as write_deploy_files,
    )
    from ._exceptions import (
        ConditionError as ConditionError,
        FanOutError as FanOutError,
        FrequencyError as FrequencyError,
        MaestroError as MaestroError,
        PipelineExecutionError as PipelineExecutionError,
        PipelineNotFoundError as PipelineNotFoundError,
        PipelineRunError as PipelineRunError,
        ScheduleBuildError as ScheduleBuildError,
        TagError as TagError,
    )
    from ._history import get_history as get_history
    from ._report import (
        Summary as Summary,
        capture_warnings as capture_warnings,
        report as report,
    )
    from ._results import output as output, run_dir as run_dir
    from ._runner import (
        get_artifacts as get_artifacts,
        get_status as get_status,
        invoke as invoke,
        last_run_errors as last_run_errors,
        last_run_messages as last_run_messages,
        last_run_warnings as last_run_warnings,
        run_schedule as run_schedule,
    )
    from ._schedule import (
        BuildError as BuildError,
        Schedule as Schedule,
        check_schedule as check_schedule,
        get_run_sequence as get_run_sequence,
        get_schedule as get_schedule,
        last_build_errors as last_build_errors,
    )
    from ._secrets import Secret as Secret, secret as secret

# A library never decides where its log goes: without a handler configured by
# the application, maestro_nb's records are dropped rather than printed by
# Python's last-resort handler.
logging.getLogger(__name__).addHandler(logging.NullHandler())

# Each public name and the private module that defines it.
_EXPORTS: dict[str, str] = {
    "BuildError": "_schedule",
    "ConditionError": "_exceptions",
    "FanOutError": "_exceptions",
    "FrequencyError": "_exceptions",
    "MaestroError": "_exceptions",
    "PipelineExecutionError": "_exceptions",
    "PipelineNotFoundError": "_exceptions",
    "PipelineRunError": "_exceptions",
    "ProjectPaths": "_deploy",
    "Schedule": "_schedule",
    "ScheduleBuildError": "_exceptions",
    "Secret": "_secrets",
    "Summary": "_report",
    "TagError": "_exceptions",
    "build_schedule": "_build",
    "capture_warnings": "_report",
    "check_schedule": "_schedule",
    "create_maestro": "_authoring",
    "create_orchestrator": "_authoring",
    "create_pipeline": "_authoring",
    "get_artifacts": "_runner",
    "get_history": "_history",
    "get_run_sequence": "_schedule",
    "get_schedule": "_schedule",
    "get_status": "_runner",
    "invoke": "_runner",
    "last_build_errors": "_schedule",
    "last_run_errors": "_runner",
    "last_run_messages": "_runner",
    "last_run_warnings": "_runner",
    "on_posit_connect": "_deploy",
    "output": "_results",
    "project_paths": "_deploy",
    "report": "_report",
    "run_dir": "_results",
    "run_schedule": "_runner",
    "secret": "_secrets",
    "write_deploy_files": "_deploy",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'maestro_nb' has no attribute {name!r}")

    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
