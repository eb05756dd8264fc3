"""What each ``maestro-nb`` subcommand does, once its arguments are parsed.

Each ``cmd_*`` function takes the parsed arguments and returns the exit code;
``_cli`` wires them to the parser. Heavy imports happen inside the commands,
so ``maestro-nb --help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ._schedule import Schedule
    from ._status import RunReport

OK, FAILED, USAGE = 0, 1, 2

_TAG_KEYS = {
    "frequency": "frequency",
    "start_time": "startTime",
    "tz": "tz",
    "hours": "hours",
    "days": "days",
    "months": "months",
    "skip": "skip",
    "log_level": "logLevel",
    "priority": "priority",
    "flags": "flags",
}


def _given_tags(args: argparse.Namespace) -> dict[str, Any]:
    given = {key: getattr(args, option) for option, key in _TAG_KEYS.items()}
    return {key: value for key, value in given.items() if value is not None}


def cmd_usage(args: argparse.Namespace) -> int:
    return USAGE


def cmd_run(args: argparse.Namespace) -> int:
    import maestro_nb

    schedule = _build(args)
    quiet = args.quiet or args.json
    maestro_nb.run_schedule(
        schedule,
        orch_frequency=args.orch_frequency,
        check_datetime=args.check_datetime,
        resources=_resources(args.resources),
        run_all=args.run_all,
        n_show_next=args.n_show_next,
        workers=args.workers,
        log_to_console=args.log_to_console,
        log_to_file=args.log_to_file,
        log_file_max_bytes=args.log_file_max_bytes,
        quiet=quiet,
        output_dir=args.output_dir,
        timeout=_number_or_text(args.timeout),
        retries=args.retries,
        retry_delay=_number_or_text(args.retry_delay) or 0,
        history=False if args.no_history else (args.history or True),
        catch_up=args.catch_up,
        executor="dask" if args.dask_address else None,
        dask_address=args.dask_address,
    )
    return _run_result(args, schedule)


def _number_or_text(value: str | None) -> str | float | None:
    """Durations come as seconds (``"30"``) or as text (``"30 seconds"``)."""
    if value is None:
        return None

    try:
        return float(value)
    except ValueError:
        return value


def cmd_invoke(args: argparse.Namespace) -> int:
    import maestro_nb

    schedule = _build(args)
    maestro_nb.invoke(
        schedule,
        args.name,
        resources=_resources(args.resources),
        workers=args.workers,
        log_to_console=args.log_to_console,
        log_to_file=args.log_to_file,
        log_file_max_bytes=args.log_file_max_bytes,
        quiet=args.quiet or args.json,
        output_dir=args.output_dir,
    )
    return _run_result(args, schedule)


def _run_result(args: argparse.Namespace, schedule: Schedule) -> int:
    report = schedule.last_run
    if args.json:
        _print_json(_report_json(report, schedule))

    if schedule.build_errors:
        return USAGE

    return FAILED if report is not None and report.failed else OK


def cmd_schedule(args: argparse.Namespace) -> int:
    schedule = _build(args)
    table = schedule.get_schedule()
    if args.json:
        _print_json(_records(table))
    else:
        columns = ["pipe_name", "frequency", "start_time", "tz", "skip", "log_level"]
        _print_table(table[columns], "no pipeline scheduled")

    return USAGE if schedule.build_errors else OK


def cmd_next(args: argparse.Namespace) -> int:
    schedule = _build(args)
    sequence = schedule.get_run_sequence(n=args.n, min_datetime=args.check_datetime)
    upcoming = sequence.head(args.n)
    if args.json:
        _print_json(_records(upcoming))
    else:
        _print_table(upcoming, "no run scheduled")

    return OK


def cmd_status(args: argparse.Namespace) -> int:
    from ._logs import STATUS_FILE_NAME, read_status_file
    from ._status import FAILURE_STATES

    content = read_status_file(Path(args.output_dir))
    if content is None:
        print(
            f"maestro-nb status: no run recorded: {Path(args.output_dir)}/"
            f"{STATUS_FILE_NAME} does not exist (run `maestro-nb run` first)",
            file=sys.stderr,
        )
        return USAGE

    rows = content.get("status", [])
    if args.json:
        _print_json(content)
    else:
        _print_status(content, rows)

    failed = any(row.get("status") in FAILURE_STATES for row in rows)
    return FAILED if failed else OK


def _print_status(content: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    print(
        f"last run: checked at {content.get('check_datetime')} "
        f"(orch_frequency {content.get('orch_frequency')!r})"
    )
    columns = ["pipe_name", "status", "duration", "errors", "warnings", "messages"]
    table = pd.DataFrame(rows, columns=[*columns, "output_notebook"])
    table["duration"] = table["duration"].astype("float64").round(1)
    _print_table(table, "no pipeline in the last run")


def cmd_why(args: argparse.Namespace) -> int:
    schedule = _build(args)
    print(schedule.explain(args.name, args.check_datetime, args.orch_frequency))
    return OK


def cmd_validate(args: argparse.Namespace) -> int:
    schedule = _build(args)
    errors = schedule.last_build_errors()
    if args.json:
        _print_json({"pipelines": list(schedule.pipelines), "errors": _records(errors)})
    elif errors.empty:
        print(f"maestro-nb validate: {len(schedule.pipelines)} pipelines, no errors")
    else:
        for message in errors["message"]:
            print(f"error: {message}")

        print(f"maestro-nb validate: {len(errors)} build error(s)")

    return USAGE if schedule.build_errors else OK


def cmd_init(args: argparse.Namespace) -> int:
    from ._authoring import create_maestro

    project = create_maestro(args.dir, overwrite=args.overwrite)
    print(f"created a maestro_nb project in {project}")
    print(f"  cd {project} && maestro-nb run --run-all")
    return OK


def cmd_new(args: argparse.Namespace) -> int:
    from ._authoring import create_pipeline

    tags = _given_tags(args)
    path = create_pipeline(
        args.name,
        args.pipeline_dir,
        frequency=tags.get("frequency", "1 day"),
        start_time=tags.get("startTime"),
        tz=tags.get("tz", "UTC"),
        hours=tags.get("hours"),
        days=tags.get("days"),
        months=tags.get("months"),
        skip=bool(tags.get("skip")),
        log_level=tags.get("logLevel"),
        priority=tags.get("priority"),
        flags=tags["flags"].split() if "flags" in tags else None,
        overwrite=args.overwrite,
    )
    print(f"created {path}")
    return OK


def cmd_tag(args: argparse.Namespace) -> int:
    from ._authoring import set_tags

    tags = _given_tags(args)
    if not tags and not args.replace:
        print("maestro-nb tag: error: give at least one tag option", file=sys.stderr)
        return USAGE

    written = set_tags(args.notebook, tags, replace=args.replace)
    print(f"{args.notebook}: maestro {json.dumps(written)}")
    return OK


def cmd_deploy_files(args: argparse.Namespace) -> int:
    from ._deploy import write_deploy_files

    result = write_deploy_files(
        args.project_dir,
        orchestrator=args.orchestrator,
        pipeline_dir=args.pipeline_dir,
        requirements=args.requirement,
        overwrite=args.overwrite,
    )
    for path in result.written:
        print(f"wrote {path}")

    print("then write the manifest with:")
    print(f"  {result.command_line}")
    return OK


def _build(args: argparse.Namespace) -> Schedule:
    import maestro_nb

    output_dir = getattr(args, "output_dir", "runs")
    return maestro_nb.build_schedule(
        args.pipeline_dir, quiet=True, output_dir=output_dir
    )


def _resources(values: list[str]) -> dict[str, object]:
    """Merge ``--resources`` values: JSON objects, or KEY=VALUE pairs.

    Raises:
        ValueError: a value is neither.
    """
    merged: dict[str, object] = {}
    for value in values:
        if value.lstrip().startswith("{"):
            parsed = json.loads(value)
            if not isinstance(parsed, dict):
                raise ValueError(f"--resources {value!r} is not a JSON object")

            merged.update(parsed)
            continue

        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"--resources {value!r}: expected a JSON object or KEY=VALUE"
            )

        merged[key.strip()] = _json_or_text(text)

    return merged


def _json_or_text(text: str) -> object:
    try:
        value: object = json.loads(text)
    except json.JSONDecodeError:
        return text

    return value


def _report_json(report: RunReport | None, schedule: Schedule) -> dict[str, Any]:
    errors = _records(schedule.last_build_errors())
    if report is None:
        return {"status": [], "failed": [], "build_errors": errors}

    return {
        "check_datetime": report.check_datetime.isoformat(),
        "orch_frequency": report.orch_frequency,
        "failed": report.failed,
        "succeeded": report.succeeded,
        "build_errors": errors,
        "status": _records(report.status()),
        "errors": report.errors(),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    parsed: list[dict[str, Any]] = json.loads(
        frame.to_json(orient="records", date_format="iso", default_handler=str)
    )
    return parsed


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, default=str))


def _print_table(frame: pd.DataFrame, empty: str) -> None:
    if frame.empty:
        print(empty)
        return

    print(frame.to_string(index=False))
