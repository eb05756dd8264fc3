"""The exceptions maestro_nb raises, in one tree.

    MaestroError
    ├── TagError (ValueError)            a pipeline's tag cannot be used
    ├── FrequencyError (ValueError)      a frequency string is not valid
    ├── PipelineNotFoundError (LookupError)
    ├── ScheduleBuildError (ValueError)  no pipeline could be built at all
    ├── ConditionError (ValueError)      a runIf cannot give a True/False verdict
    ├── FanOutError (ValueError)         a map cannot split its upstream value
    ├── PipelineRunError (RuntimeError)  at least one pipeline failed in a run
    └── PipelineExecutionError (RuntimeError)  one pipeline's notebook failed

Each exception takes structured fields and builds its own message, so callers
never format error text themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "ConditionError",
    "FanOutError",
    "FrequencyError",
    "MaestroError",
    "PipelineExecutionError",
    "PipelineNotFoundError",
    "PipelineRunError",
    "ScheduleBuildError",
    "TagError",
]


class MaestroError(Exception):
    """Base class of every error maestro_nb raises on purpose."""


class TagError(MaestroError, ValueError):
    """A pipeline notebook's ``maestro`` metadata cannot be used.

    Attributes:
        path: the notebook file.
        tag: the tag at fault (``None`` for the notebook as a whole).
        value: the offending value.
        reason: what is wrong and what would be valid.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: Path | str | None = None,
        tag: str | None = None,
        value: object = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.tag = tag
        self.value = value
        self.reason = reason
        super().__init__(self._message())

    def _message(self) -> str:
        where = str(self.path) if self.path is not None else "pipeline"
        if self.tag is None:
            return f"{where}: {self.reason}"

        return f"{where}: tag {self.tag!r} = {self.value!r}: {self.reason}"

    def with_path(self, path: Path | str) -> TagError:
        """Return a copy of this error that names the notebook file."""
        return TagError(self.reason, path=path, tag=self.tag, value=self.value)


class FrequencyError(MaestroError, ValueError):
    """A frequency (of a pipeline or of the orchestrator) is not valid."""

    def __init__(self, value: object, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"frequency {value!r} is not valid: {reason}")


class PipelineNotFoundError(MaestroError, LookupError):
    """No pipeline of that name is in the schedule."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        hint = f" (known: {', '.join(sorted(known))})" if known else ""
        super().__init__(f"no pipeline named {name!r} in the schedule{hint}")


class ScheduleBuildError(MaestroError, ValueError):
    """The schedule could not be built (no pipeline directory, no notebook)."""

    def __init__(self, reason: str, *, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.reason = reason
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"{where}{reason}")


class PipelineRunError(MaestroError, RuntimeError):
    """At least one pipeline failed during an orchestrator run."""

    def __init__(self, failed: list[str]) -> None:
        self.failed = failed
        super().__init__(
            f"{len(failed)} pipeline(s) failed: {', '.join(failed)}; "
            "see the status table and the executed notebooks for details"
        )


class PipelineExecutionError(MaestroError, RuntimeError):
    """One pipeline's notebook raised, or its kernel could not run it.

    The fields come from papermill's structured error, never from its text.
    The executed notebook is kept at ``output_notebook`` for inspection.

    Attributes:
        path: the pipeline notebook.
        ename: the exception's class name (``"ZeroDivisionError"``).
        evalue: the exception's message.
        cell_index: the failing cell's index in the notebook, if known.
        exec_count: the failing cell's execution count, if known.
        traceback: the traceback lines, without ANSI colour codes.
        output_notebook: the executed notebook, if one was written.
    """

    def __init__(
        self,
        path: Path | str,
        ename: str,
        evalue: str,
        *,
        cell_index: int | None = None,
        exec_count: int | None = None,
        traceback: list[str] | None = None,
        output_notebook: Path | str | None = None,
    ) -> None:
        self.path = Path(path)
        self.ename = ename
        self.evalue = evalue
        self.cell_index = cell_index
        self.exec_count = exec_count
        self.traceback = list(traceback or [])
        self.output_notebook = (
            Path(output_notebook) if output_notebook is not None else None
        )
        where = f" in cell {cell_index}" if cell_index is not None else ""
        super().__init__(f"{self.path}: {ename}: {evalue}{where}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its fields when a run's record comes back from a
        # Dask worker (the default rebuilds from the message alone).
        fields = {
            "cell_index": self.cell_index,
            "exec_count": self.exec_count,
            "traceback": self.traceback,
            "output_notebook": self.output_notebook,
        }
        return _rebuild_execution_error, (self.path, self.ename, self.evalue, fields)


def _rebuild_execution_error(
    path: Path, ename: str, evalue: str, fields: dict[str, Any]
) -> PipelineExecutionError:
    return PipelineExecutionError(path, ename, evalue, **fields)


class ConditionError(MaestroError, ValueError):
    """A ``runIf`` expression is refused, raises, or does not return a boolean."""

    def __init__(self, expression: str, reason: str) -> None:
        self.expression = expression
        self.reason = reason
        super().__init__(f"runIf {expression!r}: {reason}")


class FanOutError(MaestroError, ValueError):
    """A ``map`` cannot split its upstream value into runs."""

    def __init__(self, fields: tuple[str, ...], reason: str) -> None:
        self.fields = fields
        self.reason = reason
        what = f"map over {' '.join(fields)!r}" if fields else "map"
        super().__init__(f"{what}: {reason}")
