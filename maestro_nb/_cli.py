"""The ``maestro-nb`` command (also ``python -m maestro_nb``).

Exit codes: 0 all good, 1 a pipeline failed, 2 bad usage or build errors.
Tables go to standard output as plain text (no colour), so they read the
same in a terminal and in a cron log; log lines go to standard error. Heavy
imports wait until a command runs, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ._commands import (
    USAGE,
    cmd_deploy_files,
    cmd_init,
    cmd_invoke,
    cmd_new,
    cmd_next,
    cmd_run,
    cmd_schedule,
    cmd_status,
    cmd_tag,
    cmd_usage,
    cmd_validate,
    cmd_why,
)

__all__ = ["main"]

logger = logging.getLogger(__name__)


_DESCRIPTION = """\
Schedule parameterized Jupyter notebooks and run the due ones with papermill.

Each notebook in the pipeline folder says in its first cell's metadata
("maestro" tags) how often it runs; `maestro-nb run`, itself started on a
timer (cron, Posit Connect, JupyterHub), runs the pipelines that are due.
"""
_EPILOG = """\
exit codes: 0 all good, 1 a pipeline failed, 2 bad usage or build errors.

examples:
  maestro-nb init my_project && cd my_project
  maestro-nb schedule
  maestro-nb run --orch-frequency "1 hour" --workers 2 --log-to-file
  maestro-nb why daily_weather --check-datetime 2024-03-25T12:00:00Z
  maestro-nb tag pipelines/report.ipynb --frequency "1 week" --start-time "Mon 06:00:00"
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, getattr(args, "log_to_console", False))
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("maestro-nb: interrupted", file=sys.stderr)
        return 130
    except (ValueError, LookupError, OSError) as error:
        # Bad tags, unknown pipelines, missing folders: the user's to fix.
        print(f"maestro-nb {args.command}: error: {error}", file=sys.stderr)
        return USAGE


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``maestro-nb`` and all its subcommands."""
    parser = argparse.ArgumentParser(
        prog="maestro-nb",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="show maestro_nb's log on stderr: -v for INFO, -vv for DEBUG "
        "(default: errors only)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_run(commands)
    _add_schedule(commands)
    _add_next(commands)
    _add_status(commands)
    _add_why(commands)
    _add_invoke(commands)
    _add_validate(commands)
    _add_init(commands)
    _add_new(commands)
    _add_tag(commands)
    _add_deploy_files(commands)
    return parser


def _command(
    commands: Any, name: str, summary: str, handler: Callable[..., int]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=summary,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


def _project_options(parser: argparse.ArgumentParser, output: bool = True) -> None:
    parser.add_argument(
        "--pipeline-dir",
        default="pipelines",
        metavar="DIR",
        help="folder of pipeline notebooks (default: %(default)s)",
    )
    if output:
        parser.add_argument(
            "--output-dir",
            default="runs",
            metavar="DIR",
            help="folder for executed notebooks, logs and the last status "
            "(default: %(default)s)",
        )


def _time_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--orch-frequency",
        default="1 day",
        metavar="FREQ",
        help='how often the orchestrator runs, e.g. "1 hour" (default: %(default)s)',
    )
    parser.add_argument(
        "--check-datetime",
        metavar="ISO",
        help="the instant to check instead of now, e.g. 2024-03-25T12:00:00Z "
        "(naive means UTC)",
    )


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print machine-readable JSON only"
    )


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="pipelines run at once, each in its own kernel (default: %(default)s)",
    )
    parser.add_argument(
        "--resources",
        action="append",
        default=[],
        metavar="JSON|KEY=VALUE",
        help="parameters offered to every pipeline that declares them: a JSON "
        "object, or KEY=VALUE (VALUE read as JSON when it parses, else text); "
        "repeatable",
    )
    parser.add_argument(
        "--log-to-console",
        action="store_true",
        help="write each pipeline's log lines (filtered by its logLevel tag) to stderr",
    )
    parser.add_argument(
        "--log-to-file",
        nargs="?",
        const=True,
        default=False,
        metavar="PATH",
        help="append the log lines to OUTPUT_DIR/maestro.log, or to PATH",
    )
    parser.add_argument(
        "--log-file-max-bytes",
        type=int,
        default=1_000_000,
        metavar="N",
        help="rotate the log file at this size; five old files are kept "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="print no progress and no summary"
    )
    _json_option(parser)


def _add_run(commands: Any) -> None:
    parser = _command(
        commands,
        "run",
        "run the pipelines due now (exit 1 when one fails, 2 on build errors)",
        cmd_run,
    )
    _project_options(parser)
    _time_options(parser)
    parser.add_argument(
        "--run-all",
        action="store_true",
        help="run every pipeline not tagged skip, due or not",
    )
    parser.add_argument(
        "--n-show-next",
        type=int,
        default=5,
        metavar="N",
        help="upcoming runs listed in the summary (default: %(default)s)",
    )
    _run_options(parser)
    _reliability_options(parser)


def _reliability_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        metavar="DURATION",
        help='default limit per notebook, e.g. "10 minutes" or seconds (a '
        "pipeline's timeout tag wins)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=0,
        metavar="N",
        help="default re-runs of a failed notebook (default: %(default)s)",
    )
    parser.add_argument(
        "--retry-delay",
        default="0",
        metavar="DURATION",
        help='wait between attempts, e.g. "30 seconds" (default: no wait)',
    )
    parser.add_argument(
        "--history",
        metavar="PATH|URL",
        help="run history database (default: OUTPUT_DIR/maestro_history.sqlite)",
    )
    parser.add_argument(
        "--no-history",
        action="store_true",
        help="record no history and claim no slots (stateless)",
    )
    parser.add_argument(
        "--catch-up",
        metavar="WINDOW",
        help='also run slots missed in this window, e.g. "1 day" (needs history)',
    )
    parser.add_argument(
        "--dask-address",
        metavar="ADDRESS",
        help="run the notebooks on this Dask scheduler, e.g. tcp://10.0.0.5:8786",
    )


def _add_schedule(commands: Any) -> None:
    parser = _command(
        commands,
        "schedule",
        "show every scheduled pipeline and its tags",
        cmd_schedule,
    )
    _project_options(parser, output=False)
    _json_option(parser)


def _add_next(commands: Any) -> None:
    parser = _command(
        commands, "next", "show the upcoming scheduled runs, soonest first", cmd_next
    )
    _project_options(parser, output=False)
    parser.add_argument(
        "-n",
        type=int,
        default=10,
        metavar="N",
        help="how many runs to show (default: %(default)s)",
    )
    parser.add_argument(
        "--check-datetime", metavar="ISO", help="show runs after this instant"
    )
    _json_option(parser)


def _add_status(commands: Any) -> None:
    parser = _command(
        commands,
        "status",
        "show the last run recorded in the output folder (exit 1 if one failed)",
        cmd_status,
    )
    parser.add_argument(
        "--output-dir",
        default="runs",
        metavar="DIR",
        help="the output folder of the runs (default: %(default)s)",
    )
    _json_option(parser)


def _add_why(commands: Any) -> None:
    parser = _command(
        commands, "why", "explain why a pipeline is or is not due", cmd_why
    )
    parser.add_argument("name", help="the pipeline's name (its notebook's stem)")
    _project_options(parser, output=False)
    _time_options(parser)


def _add_invoke(commands: Any) -> None:
    parser = _command(
        commands,
        "invoke",
        "run one pipeline now, whatever its schedule, then its downstream pipelines",
        cmd_invoke,
    )
    parser.add_argument("name", help="the pipeline's name (its notebook's stem)")
    _project_options(parser)
    _run_options(parser)


def _add_validate(commands: Any) -> None:
    parser = _command(
        commands,
        "validate",
        "check every pipeline's tags without running anything (exit 2 on errors)",
        cmd_validate,
    )
    _project_options(parser, output=False)
    _json_option(parser)


def _add_init(commands: Any) -> None:
    parser = _command(
        commands,
        "init",
        "create a new project: orchestrator, an example pipeline, README, requirements",
        cmd_init,
    )
    parser.add_argument("dir", help="the project folder (created if missing)")
    _overwrite_option(parser)


def _add_new(commands: Any) -> None:
    parser = _command(commands, "new", "create a new notebook", cmd_usage)
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    pipeline = _command(
        kinds, "pipeline", "create a pipeline notebook with valid tags", cmd_new
    )
    pipeline.add_argument("name", help="the pipeline's name (its file stem)")
    pipeline.add_argument(
        "--pipeline-dir",
        default="pipelines",
        metavar="DIR",
        help="folder to write it in (default: %(default)s)",
    )
    _tag_options(pipeline, defaults=True)
    _overwrite_option(pipeline)


def _add_tag(commands: Any) -> None:
    parser = _command(
        commands,
        "tag",
        "set maestro tags in a notebook's first cell, in place (validated first)",
        cmd_tag,
    )
    parser.add_argument("notebook", help="the pipeline notebook (.ipynb)")
    _tag_options(parser, defaults=False)
    parser.add_argument(
        "--replace",
        action="store_true",
        help="drop the tags not given (default: merge with those there)",
    )


def _add_deploy_files(commands: Any) -> None:
    parser = _command(
        commands,
        "deploy-files",
        "write requirements.txt and .python-version for Posit Connect and "
        "print the manifest command",
        cmd_deploy_files,
    )
    parser.add_argument(
        "--project-dir",
        default=".",
        metavar="DIR",
        help="the project folder (default: %(default)s)",
    )
    parser.add_argument(
        "--orchestrator",
        default="orchestrator.ipynb",
        metavar="FILE",
        help="the orchestrator notebook (default: %(default)s)",
    )
    parser.add_argument(
        "--pipeline-dir",
        default="pipelines",
        metavar="DIR",
        help="the pipeline folder (default: %(default)s)",
    )
    parser.add_argument(
        "--requirement",
        action="append",
        default=[],
        metavar="REQ",
        help="another requirements.txt line, e.g. pandas>=2 (repeatable)",
    )
    _overwrite_option(parser)


def _overwrite_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--overwrite", action="store_true", help="replace files that already exist"
    )


def _tag_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    frequency = "1 day" if defaults else None
    tz = "UTC" if defaults else None
    shown = " (default: %(default)s)" if defaults else ""
    parser.add_argument(
        "--frequency",
        default=frequency,
        help=f'e.g. "1 day", "15 minutes", "weekly"{shown}',
    )
    parser.add_argument(
        "--start-time",
        help='e.g. "12:30:00", "Mon 04:00:00", "2024-03-25 06:00:00"',
    )
    parser.add_argument("--tz", default=tz, help=f'e.g. "Europe/Paris"{shown}')
    parser.add_argument("--hours", help='hours of the day it may run, e.g. "1 4 7"')
    parser.add_argument("--days", help='e.g. "Mon Wed" or "1 15"')
    parser.add_argument("--months", help='e.g. "3 8 12"')
    parser.add_argument(
        "--skip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="never run it on schedule",
    )
    parser.add_argument("--log-level", choices=["ERROR", "WARN", "INFO", "DEBUG"])
    parser.add_argument("--priority", type=int, help="1 runs first in a slot")
    parser.add_argument("--flags", help='words, e.g. "critical etl"')


# The tag options, by metadata key.
def _configure_logging(verbose: int, run_logs_to_console: bool) -> None:
    """Show maestro_nb's own log on stderr: errors, or more with ``-v``.

    With ``run --log-to-console`` the run attaches its own console handler,
    so the command adds none and nothing is shown twice.
    """
    from ._logs import LineFormatter

    if run_logs_to_console and verbose == 0:
        return

    level = {0: logging.ERROR, 1: logging.INFO}.get(verbose, logging.DEBUG)
    handler = logging.StreamHandler()
    handler.setFormatter(LineFormatter())
    handler.setLevel(level)
    package = logging.getLogger("maestro_nb")
    package.addHandler(handler)
    package.setLevel(min(level, package.getEffectiveLevel()))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"maestro-nb {version('maestro_nb')}"
    except PackageNotFoundError:
        return "maestro-nb (version unknown)"
