"""The exceptions maestro_nb raises, in one tree.

    MaestroError
    ├── TagError (ValueError)            a pipeline's tag cannot be used
    ├── FrequencyError (ValueError)      a frequency string is not valid
    ├── PipelineNotFoundError (LookupError)
    ├── ScheduleBuildError (ValueError)  no pipeline could be built at all
    └── PipelineRunError (RuntimeError)  at least one pipeline failed in a run

Each exception takes structured fields and builds its own message, so callers
never format error text themselves.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "FrequencyError",
    "MaestroError",
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
