"""A run's artifact: what a pipeline hands back with :func:`output`.

Inside an orchestrator run the kernel's environment names where the artifact
goes (``MAESTRO_ARTIFACT_PATH``, to which ``.json`` or ``.pickle`` is added)
and a folder for the run's own files (``MAESTRO_RUN_DIR``). :func:`output`
writes JSON when the value survives a JSON round trip unchanged, and a pickle
otherwise (pandas DataFrames, datetimes, tuples, NaN). Outside a run, with
neither variable set, :func:`output` just returns the value, so a notebook
still runs by hand.

The same files carry values between pipelines: a downstream kernel reads its
upstream's artifact file with :func:`read_value`, so a large value never
passes through the orchestrator's memory on its way.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import TypeVar

__all__ = [
    "artifact_file",
    "output",
    "read_artifact",
    "read_value",
    "run_dir",
    "write_value",
]

logger = logging.getLogger(__name__)

ARTIFACT_ENV = "MAESTRO_ARTIFACT_PATH"
RUN_DIR_ENV = "MAESTRO_RUN_DIR"
JSON_SUFFIX = ".json"
PICKLE_SUFFIX = ".pickle"

T = TypeVar("T")

_manual_run_dir: Path | None = None


def output(value: T) -> T:
    """Hand ``value`` back to the orchestrator as this run's artifact.

    Call it once, usually in the last cell; a later call replaces the value.
    Outside an orchestrator run it does nothing but return ``value``.

    Args:
        value: a JSON-able value, a pandas DataFrame, or any picklable object.

    Returns:
        ``value`` itself, so ``output(frame)`` can end a cell and display it.
    """
    target = os.environ.get(ARTIFACT_ENV)
    if not target:
        return value

    base = Path(target)
    as_json = _json_text(value)
    if as_json is not None:
        _replace(_suffixed(base, JSON_SUFFIX), as_json.encode("utf-8"))
        _suffixed(base, PICKLE_SUFFIX).unlink(missing_ok=True)
    else:
        _replace(_suffixed(base, PICKLE_SUFFIX), pickle.dumps(value))
        _suffixed(base, JSON_SUFFIX).unlink(missing_ok=True)

    return value


def run_dir() -> Path:
    """Return a folder for the files this run writes (CSV, charts, ...).

    Inside an orchestrator run it is the run's own folder next to its
    executed notebook, so runs never overwrite each other or the user's
    files. By hand it is a fresh temporary folder, the same for the whole
    kernel session.
    """
    global _manual_run_dir
    configured = os.environ.get(RUN_DIR_ENV)
    if configured:
        folder = Path(configured)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    if _manual_run_dir is None:
        _manual_run_dir = Path(tempfile.mkdtemp(prefix="maestro_nb_run_"))

    return _manual_run_dir


def read_artifact(base: Path) -> tuple[bool, object]:
    """Read the artifact a run wrote at ``base``, if it wrote one.

    Returns:
        ``(True, value)`` when an artifact exists, else ``(False, None)``.
    """
    json_path = _suffixed(base, JSON_SUFFIX)
    if json_path.exists():
        return True, json.loads(json_path.read_text(encoding="utf-8"))

    pickle_path = _suffixed(base, PICKLE_SUFFIX)
    if pickle_path.exists():
        # The pickle was written moments ago by our own run of the user's
        # notebook, so loading it trusts nothing the notebook did not already do.
        with pickle_path.open("rb") as handle:
            return True, pickle.load(handle)

    return False, None


def artifact_file(base: Path) -> Path | None:
    """Return the file a run's artifact was written to, or None without one."""
    for suffix in (JSON_SUFFIX, PICKLE_SUFFIX):
        path = _suffixed(base, suffix)
        if path.exists():
            return path

    return None


def write_value(base: Path, value: object) -> Path:
    """Write ``value`` beside ``base`` as JSON when it survives that, else pickle.

    Returns:
        The file written (``base`` with ``.json`` or ``.pickle`` added).
    """
    as_json = _json_text(value)
    if as_json is not None:
        path = _suffixed(base, JSON_SUFFIX)
        _replace(path, as_json.encode("utf-8"))
    else:
        path = _suffixed(base, PICKLE_SUFFIX)
        _replace(path, pickle.dumps(value))

    return path


def read_value(files: object) -> object:
    """Load the values named by a tree of files: a path, a list or a dict of them.

    This is what the loader cell of a downstream run calls in its kernel;
    ``None`` leaves stand for an upstream that handed back nothing.
    """
    if files is None:
        return None

    if isinstance(files, list):
        return [read_value(item) for item in files]

    if isinstance(files, dict):
        return {key: read_value(item) for key, item in files.items()}

    path = Path(str(files))
    if path.suffix == JSON_SUFFIX:
        return json.loads(path.read_text(encoding="utf-8"))

    # Only files our own runs wrote are ever named here (see read_artifact).
    with path.open("rb") as handle:
        return pickle.load(handle)


def _json_text(value: object) -> str | None:
    """Return ``value`` as JSON if it reads back equal, else None."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return None

    try:
        is_same = bool(json.loads(text) == value)
    except (TypeError, ValueError):
        return None

    return text if is_same else None


def _suffixed(base: Path, suffix: str) -> Path:
    return base.with_name(base.name + suffix)


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (write a sibling, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)
