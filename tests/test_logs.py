from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from notebook_factory import write_pipeline

import maestro_nb
from maestro_nb._logs import LOG_BACKUP_COUNT, log_routing

LINE = re.compile(
    r"^\[(?P<pipe>[\w.]+)\] \[(?P<level>ERROR|WARN|INFO|DEBUG)\] "
    r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\]: (?P<text>.*)$"
)
# Two warnings, an INFO and a DEBUG record, one stderr line, then a failure.
NOISY = (
    "import logging, sys, warnings\n"
    "logging.basicConfig(level=logging.INFO)\n"
    "log = logging.getLogger('pipe')\n"
    "log.setLevel(logging.DEBUG)\n"
    "warnings.warn('careful')\n"
    "log.warning('odd value')\n"
    "log.info('step done')\n"
    "log.debug('detail')\n"
    "print('plain note', file=sys.stderr)\n"
    "raise ValueError('boom')"
)
# logLevel -> (warnings, messages, errors) logged and counted.
EXPECTED = {
    "ERROR": (0, 0, 1),
    "WARN": (2, 0, 1),
    "INFO": (2, 2, 1),
    "DEBUG": (2, 3, 1),
}


def parsed_lines(text: str) -> list[re.Match[str]]:
    return [m for m in map(LINE.match, text.splitlines()) if m is not None]


@pytest.mark.usefixtures("python3_kernel")
def test_log_levels_filter_and_counts_agree_with_the_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipelines = tmp_path / "pipelines"
    for level in EXPECTED:
        tags = {"frequency": "1 day", "logLevel": level}
        write_pipeline(pipelines, f"p_{level.lower()}", tags, "", [NOISY])

    schedule = maestro_nb.build_schedule(
        pipelines, quiet=True, output_dir=tmp_path / "runs"
    )
    log_file = tmp_path / "logs" / "run.log"
    maestro_nb.run_schedule(
        schedule,
        run_all=True,
        workers=2,
        log_to_console=True,
        log_to_file=log_file,
        quiet=True,
        output_dir=tmp_path / "runs",
    )

    lines = parsed_lines(log_file.read_text(encoding="utf-8"))
    status = schedule.get_status().set_index("pipe_name")
    for level, (warnings, messages, errors) in EXPECTED.items():
        pipe = f"p_{level.lower()}"
        logged = [m["level"] for m in lines if m["pipe"] == pipe]
        counted = status.loc[pipe, ["warnings", "messages", "errors"]].tolist()
        assert counted == [warnings, messages, errors], level
        assert logged.count("WARN") == warnings, level
        assert logged.count("INFO") + logged.count("DEBUG") == messages, level
        assert logged.count("ERROR") == errors, level

    texts = [m["text"] for m in lines if m["pipe"] == "p_debug"]
    assert "stderr: plain note" in texts
    assert any("ValueError: boom" in text for text in texts)
    console = capsys.readouterr().err
    assert "[p_warn] [WARN]" in console and "[p_info] [INFO]" in console


def test_log_file_rotates_at_the_limit_and_keeps_the_last_files(
    tmp_path: Path,
) -> None:
    pipe_logger = logging.getLogger("maestro_nb.pipelines.rotating")
    extra = {"pipe": "rotating"}
    with log_routing(False, True, tmp_path, max_bytes=2_000):
        for index in range(400):
            pipe_logger.info("line %04d %s", index, "x" * 40, extra=extra)

    files = sorted(path.name for path in tmp_path.glob("maestro.log*"))
    assert files == ["maestro.log"] + [
        f"maestro.log.{n}" for n in range(1, LOG_BACKUP_COUNT + 1)
    ]
    assert all(path.stat().st_size <= 2_000 for path in tmp_path.glob("maestro.log*"))
    newest = (tmp_path / "maestro.log").read_text(encoding="utf-8").splitlines()
    assert newest[-1].endswith(f"line 0399 {'x' * 40}")
    older = (tmp_path / "maestro.log.1").read_text(encoding="utf-8").splitlines()
    assert int(older[-1].split()[-2]) == int(newest[0].split()[-2]) - 1
    assert all(LINE.match(line) for line in newest)


def test_handlers_are_removed_and_levels_restored_after_a_run(tmp_path: Path) -> None:
    package = logging.getLogger("maestro_nb")
    before = (list(package.handlers), package.level)
    with log_routing(True, tmp_path / "x.log", tmp_path, max_bytes=1_000):
        assert len(package.handlers) == len(before[0]) + 2

    assert (list(package.handlers), package.level) == before
    assert (tmp_path / "x.log").exists()
