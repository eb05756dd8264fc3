from __future__ import annotations

import io
import logging
import sys
import types
from datetime import datetime, timedelta
from pathlib import Path

import nbformat
import papermill
import pytest
from notebook_factory import write_pipeline

import maestro_nb
from maestro_nb._localtime import UTC
from maestro_nb._progress import Progress, progress_mode, warn_if_too_coarse
from maestro_nb._status import RunRecord, RunState

START = datetime(2024, 1, 1, tzinfo=UTC)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def record(name: str, state: RunState = RunState.COMPLETED) -> RunRecord:
    return RunRecord(
        name, Path(f"{name}.ipynb"), state, started=START, ended=START + timedelta(1)
    )


def fake_kernel(monkeypatch: pytest.MonkeyPatch, allow_stdin: bool) -> None:
    shell = types.SimpleNamespace(
        kernel=types.SimpleNamespace(_allow_stdin=allow_stdin)
    )
    fake = types.SimpleNamespace(get_ipython=lambda: shell)
    monkeypatch.setitem(sys.modules, "IPython", fake)


@pytest.fixture(autouse=True)
def no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAESTRO_PROGRESS", raising=False)


@pytest.mark.parametrize(
    ("allow_stdin", "stream", "quiet", "mode"),
    [
        (None, io.StringIO(), False, "plain"),
        (None, Tty(), False, "terminal"),
        (None, Tty(), True, "off"),
        (False, io.StringIO(), False, "plain"),
        (True, io.StringIO(), False, "notebook"),
    ],
    ids=["cron-pipe", "terminal", "quiet", "papermill-kernel", "jupyter-frontend"],
)
def test_mode_follows_where_the_run_is_watched(
    monkeypatch: pytest.MonkeyPatch,
    allow_stdin: bool | None,
    stream: io.StringIO,
    quiet: bool,
    mode: str,
) -> None:
    if allow_stdin is not None:
        fake_kernel(monkeypatch, allow_stdin)

    assert progress_mode(quiet, stream) == mode


def test_environment_variable_overrides_the_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAESTRO_PROGRESS", "plain")
    assert progress_mode(False, Tty()) == "plain"


def test_plain_mode_prints_one_line_per_finished_run_and_nothing_else() -> None:
    out = io.StringIO()
    with Progress(2, "plain", out) as progress:
        progress.track("a", lambda: None)()
        progress.finished(record("a"))
        progress.finished(record("b", RunState.FAILED))

    lines = out.getvalue().splitlines()
    assert lines == [
        "  [1/2] completed a  86400.0 s",
        "  [2/2] failed    b  86400.0 s",
    ]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_terminal_mode_redraws_one_status_line_in_place() -> None:
    out = Tty()
    with Progress(2, "terminal", out) as progress:
        progress.track("a", lambda: None)()
        assert "running: a" in progress.status_line()
        progress.finished(record("a"))

    text = out.getvalue()
    assert "\r\x1b[K" in text
    assert "maestro_nb: 0/2 done | running: a | 00:00" in text
    assert "  [1/2] completed a" in text
    assert text.endswith("\r\x1b[K")


def test_notebook_mode_updates_one_display(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[str] = []

    class Handle:
        def update(self, view: object) -> None:
            shown.append(str(getattr(view, "data", view)))

    monkeypatch.setattr(Progress, "_open_display", lambda self: Handle())
    with Progress(1, "notebook") as progress:
        progress.track("a", lambda: None)()
        progress.finished(record("a"))

    assert "running: a" in shown[0]
    assert shown[-1].startswith("maestro_nb: 1/1 done | running: -")
    assert "[1/1] completed a" in shown[-1]


def test_coarse_orchestrator_warns_and_prints(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_pipeline(tmp_path, "hourly", {"frequency": "1 hour"})
    write_pipeline(tmp_path, "daily", {"frequency": "1 day"})
    write_pipeline(tmp_path, "fast_but_off", {"frequency": "1 minute", "skip": True})
    schedule = maestro_nb.build_schedule(tmp_path, quiet=True)

    with caplog.at_level(logging.WARNING, logger="maestro_nb"):
        text = warn_if_too_coarse(schedule, "1 day", quiet=False)

    assert text is not None and "'hourly' is scheduled every 1 hour" in text
    assert text in caplog.text
    assert f"maestro_nb: warning: {text}" in capsys.readouterr().out
    assert warn_if_too_coarse(schedule, "1 hour", quiet=False) is None


@pytest.mark.usefixtures("python3_kernel")
def test_a_run_under_papermill_shows_plain_lines_only(tmp_path: Path) -> None:
    write_pipeline(tmp_path / "pipelines", "p", {}, "", ["1 + 1"])
    orchestrator = nbformat.v4.new_notebook()
    orchestrator.cells.append(
        nbformat.v4.new_code_cell(
            "import maestro_nb\n"
            "s = maestro_nb.build_schedule('pipelines', quiet=True)\n"
            "maestro_nb.run_schedule(s, run_all=True);"
        )
    )
    orchestrator.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    nbformat.write(orchestrator, tmp_path / "orchestrator.ipynb")

    papermill.execute_notebook(
        str(tmp_path / "orchestrator.ipynb"),
        str(tmp_path / "out.ipynb"),
        cwd=str(tmp_path),
        progress_bar=False,
    )

    outputs = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs
    assert {output.output_type for output in outputs} == {"stream"}
    text = "".join(output.text for output in outputs)
    assert "  [1/1] completed p" in text
    assert "\r" not in text and "\x1b" not in text
