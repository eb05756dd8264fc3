from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest
from notebook_factory import write_pipeline

import maestro_nb
from maestro_nb._exceptions import PipelineExecutionError
from maestro_nb._frequency import parse_orch_frequency
from maestro_nb._report import counts, notebook_link, slot_interval_for
from maestro_nb._status import RunRecord, RunReport, RunState

CHECK = datetime(2024, 3, 4, 6, 0, tzinfo=timezone.utc)
NASTY = "<script>alert('x')</script> & \"quotes\""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    pipelines = tmp_path / "pipelines"
    write_pipeline(pipelines, "hourly", {"frequency": "1 hour"})
    write_pipeline(pipelines, "daily", {"frequency": "1 day", "startTime": "06:00"})
    write_pipeline(pipelines, "off", {"skip": True})
    write_pipeline(pipelines, "bad_tag", {"frequency": "every full moon"})
    return tmp_path


def _failed_notebook(folder: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("raise ValueError(x) # <b>not bold</b>"),
    ]
    path = folder / "runs" / "daily" / "20240304T060000Z_abc.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def _ran(project: Path) -> maestro_nb.Schedule:
    """A schedule with a hand-made last run: one success, one failure, one skip."""
    schedule = maestro_nb.build_schedule(project / "pipelines", quiet=True)
    executed = _failed_notebook(project)
    error = PipelineExecutionError(
        project / "pipelines" / "daily.ipynb",
        "ValueError",
        NASTY,
        cell_index=1,
        traceback=["\x1b[0;31mValueError\x1b[0m: 1", "  File <cell>, line 1"],
        output_notebook=executed,
    )
    started = CHECK + timedelta(seconds=2)
    records = [
        RunRecord(
            "hourly",
            project / "pipelines" / "hourly.ipynb",
            RunState.COMPLETED,
            run_id="run1",
            started=started,
            ended=started + timedelta(seconds=3.5),
            output_notebook=project / "runs" / "hourly" / "x.ipynb",
        ),
        RunRecord(
            "daily",
            project / "pipelines" / "daily.ipynb",
            RunState.FAILED,
            run_id="run2",
            started=started,
            ended=started + timedelta(seconds=8),
            output_notebook=executed,
            error=error,
        ),
        RunRecord("off", project / "pipelines" / "off.ipynb", RunState.SKIPPED),
    ]
    schedule.last_run = RunReport(records, CHECK, "1 hour")
    return schedule


def test_headline_counts_and_total_duration(project: Path) -> None:
    summary = _ran(project).summary(link_base=project)

    page = summary.html
    assert "2024-03-04 06:00 UTC" in page
    assert "1 hour" in page
    assert counts(summary.records) == {
        "succeeded": 1,
        "failed": 1,
        "skipped": 1,
        "not due": 0,
    }
    assert "8.0 s" in page
    assert "1 succeeded, 1 failed, 1 skipped, 0 not due; took 8.0 s" in repr(summary)


def test_status_shows_a_symbol_and_a_word_not_colour_alone(project: Path) -> None:
    page = _ran(project).summary(link_base=project).html

    assert "\u2714 succeeded</span>" in page
    assert "\u2716 failed</span>" in page
    assert "\u23ed skipped</span>" in page


def test_user_text_is_escaped_everywhere(project: Path) -> None:
    page = _ran(project).summary(link_base=project).html

    assert "<script" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp;" in page
    assert "<b>not bold</b>" not in page
    assert "# &lt;b&gt;not bold&lt;/b&gt;" in page


def test_failure_is_collapsed_with_cell_source_and_a_clean_traceback(
    project: Path,
) -> None:
    page = _ran(project).summary(link_base=project).html

    failure = re.search(r'<details class="maestro-failure">(.*?)</details>', page, re.S)
    assert failure is not None
    assert "<code>ValueError</code>" in failure.group(1)
    assert "raise ValueError(x)" in failure.group(1)
    assert "(cell 1)" in failure.group(1)
    assert "\x1b" not in page and "[0;31m" not in page


def test_page_is_self_contained(project: Path) -> None:
    page = _ran(project).summary(link_base=project).html

    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "http://" not in page and "https://" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 2  # the timeline and the slot usage chart
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        png = base64.b64decode(source.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_links_are_relative_to_the_page_and_only_when_reachable(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    summary = _ran(project).summary(link_base=project)

    assert 'href="runs/daily/20240304T060000Z_abc.ipynb"' in summary.html
    saved = summary.save(project / "runs" / "summary.html").read_text()
    assert saved.startswith("<!DOCTYPE html>")
    assert 'href="daily/20240304T060000Z_abc.ipynb"' in saved
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    target = project / "runs" / "daily" / "20240304T060000Z_abc.ipynb"
    assert "href" not in notebook_link(target, elsewhere)
    assert str(target.resolve()) in notebook_link(target, elsewhere)


def test_build_errors_name_the_notebook_and_the_tag(project: Path) -> None:
    page = _ran(project).summary(link_base=project).html

    section = page.split("Build errors</h2>", 1)[1]
    assert "bad_tag.ipynb" in section
    assert "frequency" in section
    assert "every full moon" in section


def test_next_runs_are_grouped_by_pipeline_and_leave_out_skipped(
    project: Path,
) -> None:
    summary = _ran(project).summary(n_show_next=3, link_base=project)

    runs = summary.next_runs
    assert runs.groupby("pipe_name", observed=True).size().to_dict() == {
        "daily": 3,
        "hourly": 3,
    }
    section = summary.html.split("Next runs</h2>", 1)[1].split("</table>")[0]
    assert section.count("<tr>") == 3  # header and two pipelines
    assert "off" not in section


def test_timeline_spans_a_day_when_a_pipeline_runs_more_than_once_in_it(
    project: Path,
) -> None:
    assert "next 24 hours" in _ran(project).summary().html
    assert "next 7 days" in _ran(project).summary(horizon="7 days").html
    with pytest.raises(ValueError, match="horizon"):
        _ran(project).summary(horizon="fortnight")


def test_lineage_column_reads_the_record_when_it_has_one(project: Path) -> None:
    schedule = _ran(project)
    assert schedule.last_run is not None
    record = schedule.last_run.records[0]
    record.lineage = "extract->hourly"

    assert "extract \u2192 hourly" in schedule.summary().html


def test_iterations_of_a_map_are_told_apart(project: Path) -> None:
    schedule = _ran(project)
    assert schedule.last_run is not None
    schedule.last_run.records[0].iteration = 3

    summary = schedule.summary()
    assert ">hourly[3]<" in summary.html
    assert "hourly[3]" in repr(summary)


def test_a_schedule_that_never_ran_still_has_a_page(project: Path) -> None:
    schedule = maestro_nb.build_schedule(project / "pipelines", quiet=True)

    summary = maestro_nb.report(schedule)
    assert "not run yet" in repr(summary)
    assert "Next runs" in summary.html and "Runs</h2>" not in summary.html
    assert summary._repr_html_() == summary.html


@pytest.mark.parametrize(
    ("orch_frequency", "interval"),
    [
        ("30 seconds", "minute"),
        ("15 minutes", "hour"),
        ("1 day", "weekday"),
        ("1 month", "month"),
    ],
    ids=["seconds", "minutes", "daily", "monthly"],
)
def test_slot_interval_follows_the_orchestrator(
    orch_frequency: str, interval: str
) -> None:
    assert slot_interval_for(parse_orch_frequency(orch_frequency)) == interval


def test_warnings_are_captured_for_the_page_and_errors_left_out(
    project: Path,
) -> None:
    import logging

    with maestro_nb.capture_warnings() as notes:
        logging.getLogger("maestro_nb.x").warning("outputs will %s", "vanish")
        logging.getLogger("maestro_nb.x").error("shown elsewhere")

    assert notes == ["outputs will vanish"]
    page = _ran(project).summary(notes=notes).html
    assert '<ul class="maestro-notes"' in page and "\u26a0 outputs will vanish" in page
