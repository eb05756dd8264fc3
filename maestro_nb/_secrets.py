"""Secrets: values that reach a pipeline's kernel but never a file on disk.

A resource wrapped in :class:`Secret` (or given in ``run_schedule(secrets=)``)
is not a papermill parameter: its value travels in the kernel's environment,
as ``MAESTRO_SECRET_<name>``, and the notebook gets an injected cell (tagged
``injected-maestro-secrets``) that assigns the parameter from there with
:func:`secret`. The executed notebook thus shows the name, never the value.

What the notebook itself does with the value is its author's business, but
the orchestrator still covers the common slips: after the run, every known
secret value is replaced by ``***`` in the executed notebook (sources,
outputs, tracebacks), the run's event and kernel log files, and the run's
error, so it reaches neither the logs, the status, the history nor the
summary page. An artifact handed back with ``output()`` is kept as written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["SECRET_ENV_PREFIX", "SECRET_TAG", "Secret", "secret"]

SECRET_ENV_PREFIX = "MAESTRO_SECRET_"
SECRET_TAG = "injected-maestro-secrets"
MASK = "***"


class Secret:
    """A resource value that must never be written down (shown as ``***``).

    Args:
        value: the secret text, such as a password or a token.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a Secret holds a string, not {type(value).__name__}")

        if "\x00" in value:
            raise ValueError("a Secret cannot contain a NUL character")

        self._value = value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def reveal(self) -> str:
        """Return the secret text itself."""
        return self._value


def secret(name: str) -> str:
    """Return the secret ``name`` given to this run (in a pipeline's kernel).

    Raises:
        KeyError: the orchestrator gave this run no secret of that name.
    """
    try:
        return os.environ[SECRET_ENV_PREFIX + name]
    except KeyError:
        raise KeyError(
            f"no secret named {name!r} was given to this run; pass it to "
            f"run_schedule(secrets={{{name!r}: ...}}) and declare {name} in "
            "the parameters cell"
        ) from None


def split_secrets(
    offered: dict[str, object],
) -> tuple[dict[str, object], dict[str, str]]:
    """Split offered parameters into plain ones and secret values."""
    plain = {k: v for k, v in offered.items() if not isinstance(v, Secret)}
    secrets = {k: v.reveal() for k, v in offered.items() if isinstance(v, Secret)}
    return plain, secrets


def secret_env(secrets: dict[str, str]) -> dict[str, str]:
    """Return the kernel environment variables that carry ``secrets``."""
    return {SECRET_ENV_PREFIX + name: value for name, value in secrets.items()}


def secret_cell_source(names: list[str]) -> str:
    """Return the injected cell that reads each secret parameter from the env."""
    lines = [
        "# Injected by maestro_nb: secrets, read from the kernel's environment.",
        "from maestro_nb import secret as _maestro_secret",
        "",
        *(f"{name} = _maestro_secret({name!r})" for name in names),
        "del _maestro_secret",
    ]
    return "\n".join(lines)


def redact_text(text: str, values: list[str]) -> str:
    """Replace every occurrence of each secret value by ``***``."""
    for value in sorted(values, key=len, reverse=True):
        if value:
            text = text.replace(value, MASK)

    return text


def redact_file(path: Path, values: list[str]) -> None:
    """Mask the secret values in a text file (a log, a JSON-lines file).

    A line that holds JSON is masked string by string, so a value is found
    whatever escaping JSON gave it.
    """
    if not values or not path.exists():
        return

    text = path.read_text(encoding="utf-8", errors="replace")
    lines = [_redact_line(line, values) for line in text.splitlines(keepends=True)]
    cleaned = "".join(lines)
    if cleaned != text:
        path.write_text(cleaned, encoding="utf-8")


def _redact_line(line: str, values: list[str]) -> str:
    try:
        content = json.loads(line)
    except ValueError:
        return redact_text(line, values)

    cleaned = _redact_tree(content, values)
    if cleaned == content:
        return line

    return json.dumps(cleaned, ensure_ascii=False) + "\n"


def redact_notebook(path: Path, values: list[str]) -> None:
    """Mask the secret values in every string of a notebook file.

    The notebook is walked as JSON, so a value is found whatever escaping
    the file uses for it.
    """
    if not values or not path.exists() or path.stat().st_size == 0:
        return

    content = json.loads(path.read_text(encoding="utf-8"))
    cleaned = _redact_tree(content, values)
    if cleaned != content:
        text = json.dumps(cleaned, indent=1, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")


def _redact_tree(node: Any, values: list[str]) -> Any:
    if isinstance(node, str):
        return redact_text(node, values)

    if isinstance(node, list):
        return [_redact_tree(item, values) for item in node]

    if isinstance(node, dict):
        return {key: _redact_tree(item, values) for key, item in node.items()}

    return node
