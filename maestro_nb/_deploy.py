"""Where an orchestrator runs: its project folder, its outputs, and Posit Connect.

The orchestrator never relies on its working directory. Its project folder is
the ``project_dir`` parameter, else ``MAESTRO_PROJECT_DIR``, else the working
directory (where Jupyter, papermill and nbconvert start a notebook's kernel).
Pipelines, data and outputs are found from there, except that
``MAESTRO_OUTPUT_DIR`` moves the outputs anywhere writable: on Posit Connect
the bundle folder is replaced by every deployment, so runs kept there vanish.

:func:`write_deploy_files` prepares a project for ``rsconnect``.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

__all__ = [
    "DeployFiles",
    "ProjectPaths",
    "on_posit_connect",
    "project_paths",
    "write_deploy_files",
]

logger = logging.getLogger(__name__)

PROJECT_DIR_ENV = "MAESTRO_PROJECT_DIR"
OUTPUT_DIR_ENV = "MAESTRO_OUTPUT_DIR"
DEFAULT_OUTPUT = "runs"
REQUIREMENTS_FILE = "requirements.txt"
PYTHON_VERSION_FILE = ".python-version"
_SKIPPED_PARTS = (".ipynb_checkpoints", "__pycache__")


def on_posit_connect(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs on Posit Connect (read from its environment)."""
    env = os.environ if environ is None else environ
    product = env.get("POSIT_PRODUCT") or env.get("RSTUDIO_PRODUCT") or ""
    return product.upper() == "CONNECT" or bool(env.get("CONNECT_CONTENT_GUID"))


@dataclass(frozen=True)
class ProjectPaths:
    """The folders of one orchestrator project, all absolute.

    Attributes:
        project_dir: the project folder.
        pipeline_dir: its pipeline notebooks.
        output_dir: where executed notebooks, logs and the summary page go.
        data_dir: its ``data`` folder (which may not exist).
    """

    project_dir: Path
    pipeline_dir: Path
    output_dir: Path
    data_dir: Path


def project_paths(
    project_dir: str | os.PathLike[str] | None = None,
    pipeline_dir: str | os.PathLike[str] = "pipelines",
    output_dir: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> ProjectPaths:
    """Resolve a project's folders, whatever the working directory.

    Args:
        project_dir: the project folder; default ``MAESTRO_PROJECT_DIR``,
            else the working directory.
        pipeline_dir: the pipeline folder, relative to the project folder.
        output_dir: the output folder, relative to the project folder;
            default ``MAESTRO_OUTPUT_DIR``, else ``<project_dir>/runs``.
        environ: the environment to read (default ``os.environ``).

    Returns:
        The folders, absolute; the output folder exists and is writable.
    """
    env = os.environ if environ is None else environ
    project = Path(project_dir or env.get(PROJECT_DIR_ENV) or Path.cwd()).resolve()
    chosen = output_dir or env.get(OUTPUT_DIR_ENV)
    if chosen is None and on_posit_connect(env):
        logger.warning(
            "running on Posit Connect without %s: outputs go to the bundle "
            "folder and are lost at the next deployment",
            OUTPUT_DIR_ENV,
        )

    output = _writable(project / (chosen or DEFAULT_OUTPUT))
    return ProjectPaths(project, project / pipeline_dir, output, project / "data")


def _writable(folder: Path) -> Path:
    """Return ``folder`` created, or a temporary folder when it cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        logger.warning("%s: cannot create the output folder: %s", folder, error)
    else:
        if os.access(folder, os.W_OK):
            return folder.resolve()

    fallback = Path(tempfile.mkdtemp(prefix="maestro_nb_runs_"))
    logger.warning(
        "%s is not writable; outputs go to %s for this run (set %s)",
        folder,
        fallback,
        OUTPUT_DIR_ENV,
    )
    return fallback


@dataclass(frozen=True)
class DeployFiles:
    """What :func:`write_deploy_files` did.

    Attributes:
        written: the files it wrote (existing ones are kept unless overwritten).
        command: the ``rsconnect write-manifest notebook`` command, to run in
            the project folder.
        extra_files: the pipeline and data files the command bundles, relative
            to the project folder.
    """

    written: list[Path]
    command: list[str]
    extra_files: list[str]

    @property
    def command_line(self) -> str:
        """The command as one shell-quoted line."""
        return shlex.join(self.command)


def write_deploy_files(
    project_dir: str | os.PathLike[str] = ".",
    *,
    orchestrator: str = "orchestrator.ipynb",
    pipeline_dir: str = "pipelines",
    data_dirs: Iterable[str] = ("data",),
    requirements: Iterable[str] | None = None,
    overwrite: bool = False,
) -> DeployFiles:
    """Write what Posit Connect needs and return the manifest command for it.

    Writes ``requirements.txt`` (``maestro_nb`` at the installed version, then
    ``requirements``) and ``.python-version`` (this interpreter's
    ``major.minor``) into the project folder; files that exist are kept unless
    ``overwrite``. The command bundles the orchestrator with every file under
    the pipeline and data folders (checkpoints and caches left out), hiding
    the input of cells tagged ``hide_input``.

    Args:
        project_dir: the project folder.
        orchestrator: the orchestrator notebook, relative to the project.
        pipeline_dir: the pipeline folder, relative to the project.
        data_dirs: the data folders, relative to the project.
        requirements: more requirement lines (the pipelines' own imports).
        overwrite: replace existing ``requirements.txt`` and ``.python-version``.

    Returns:
        The files written, the command and the bundled files.

    Raises:
        FileNotFoundError: the orchestrator notebook does not exist.
    """
    project = Path(project_dir).resolve()
    if not (project / orchestrator).is_file():
        raise FileNotFoundError(f"{project / orchestrator}: no orchestrator notebook")

    lines = [_maestro_requirement(), *(requirements or [])]
    contents = {
        REQUIREMENTS_FILE: "\n".join(lines) + "\n",
        PYTHON_VERSION_FILE: f"{sys.version_info.major}.{sys.version_info.minor}\n",
    }
    written = [
        _write(project / name, text, overwrite) for name, text in contents.items()
    ]
    extra = [
        path.relative_to(project).as_posix()
        for folder in (pipeline_dir, *data_dirs)
        for path in _bundled_files(project / folder)
    ]
    command = [
        "rsconnect",
        "write-manifest",
        "notebook",
        "--overwrite",
        "--hide-tagged-input",
        orchestrator,
        *extra,
    ]
    return DeployFiles([p for p in written if p is not None], command, extra)


def _maestro_requirement() -> str:
    try:
        return f"maestro_nb=={metadata.version('maestro_nb')}"
    except metadata.PackageNotFoundError:
        return "maestro_nb"


def _write(path: Path, text: str, overwrite: bool) -> Path | None:
    if path.exists() and not overwrite:
        logger.info("%s exists; kept (pass overwrite=True to replace it)", path)
        return None

    path.write_text(text, encoding="utf-8")
    return path


def _bundled_files(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return

    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        hidden = any(p in _SKIPPED_PARTS or p.startswith(".") for p in parts)
        if path.is_file() and not hidden:
            yield path
