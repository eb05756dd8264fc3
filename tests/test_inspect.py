"""Flags, labels, network, slot usage and explanations on small schedules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

import maestro_nb
from maestro_nb._tags import parse_tags


def schedule_of(**pipelines: dict[str, Any]) -> maestro_nb.Schedule:
    specs = [
        parse_tags(tags, name=name, path=Path(f"pipelines/{name}.ipynb"))
        for name, tags in pipelines.items()
    ]
    return maestro_nb.Schedule(specs)


ETL = schedule_of(
    extract={
        "frequency": "1 hour",
        "flags": "etl critical",
        "labels": {"owner": "data-team"},
        "outputs": "transform",
    },
    transform={"frequency": "1 day", "flags": ["etl"]},
    load={"inputs": ["transform"]},
    report={
        "frequency": "1 day",
        "startTime": "06:00:00",
        "labels": {"owner": "bi", "domain": "sales"},
    },
)


def test_flags_and_labels_are_long_tables() -> None:
    assert ETL.get_flags().values.tolist() == [
        ["extract", "etl"],
        ["extract", "critical"],
        ["transform", "etl"],
    ]
    assert sorted(ETL.get_labels().values.tolist()) == [
        ["extract", "owner", "data-team"],
        ["report", "domain", "sales"],
        ["report", "owner", "bi"],
    ]


def test_network_lists_edges_from_inputs_and_outputs_once() -> None:
    assert ETL.get_network().values.tolist() == [
        ["extract", "transform"],
        ["transform", "load"],
    ]
    assert ETL.descendants("extract") == ["transform", "load"]


def test_downstream_pipelines_are_never_due_on_their_own() -> None:
    table = ETL.check("1 hour", "2024-06-01T00:00:00Z").set_index("pipe_name")
    assert table.loc["extract", "is_due"]
    assert not table.loc["transform", "is_due"] and not table.loc["load", "is_due"]


def test_run_sequence_puts_downstream_at_the_roots_times() -> None:
    table = ETL.get_run_sequence(
        min_datetime="2024-06-01T05:30Z", max_datetime="2024-06-01T06:00Z"
    )
    assert table.values.tolist() == [
        ["extract", pd.Timestamp("2024-06-01T06:00Z"), True],
        ["transform", pd.Timestamp("2024-06-01T06:00Z"), False],
        ["load", pd.Timestamp("2024-06-01T06:00Z"), False],
        ["report", pd.Timestamp("2024-06-01T06:00Z"), True],
    ]
    primary = ETL.get_run_sequence(
        min_datetime="2024-06-01T05:30Z",
        max_datetime="2024-06-01T06:00Z",
        include_only_primary=True,
    )
    assert primary["pipe_name"].tolist() == ["extract", "report"]


def test_slot_usage_counts_pipelines_per_hour_of_day() -> None:
    schedule = schedule_of(
        a={"frequency": "1 day", "startTime": "06:10:00"},
        b={"frequency": "1 day", "startTime": "05:50:00"},
        c={"frequency": "1 day", "startTime": "12:00:00", "tz": "Europe/Paris"},
        d={"frequency": "1 day", "skip": True},
    )
    usage = schedule.get_slot_usage("1 hour", "hour").set_index("slot")
    assert len(usage) == 24
    assert usage.loc[6, "n_pipelines"] == 2 and usage.loc[6, "pipe_names"] == "a, b"
    assert usage.loc[6, "n_runs"] == 14  # a week of daily runs each
    # noon in Paris is 10:00 or 11:00 UTC depending on the season
    assert usage.loc[[10, 11], "n_pipelines"].sum() == 1
    assert usage["n_pipelines"].sum() == 3


def test_slot_usage_by_weekday() -> None:
    usage = schedule_of(w={"frequency": "weekly", "startTime": "Wed 09:00:00"})
    table = usage.get_slot_usage("1 day", "weekday").set_index("slot")
    assert table.loc["Wed", "n_runs"] == 4 and table["n_runs"].sum() == 4


def test_explain_due() -> None:
    text = ETL.explain("report", "2024-06-01T06:20:00Z", "1 hour")
    assert "Due: cycle point 2024-06-01 06:00:00 UTC rounds to this slot." in text
    assert "Next run: slot 2024-06-02 06:00:00 UTC." in text


def test_explain_names_the_filter_that_rejected() -> None:
    schedule = schedule_of(
        night={"frequency": "1 hour", "hours": "1 2", "tz": "Europe/Paris"}
    )
    text = schedule.explain("night", "2024-06-01T10:00:00Z", "1 hour")
    assert "cycle point 2024-06-01 10:00:00 UTC (2024-06-01 12:00:00 CEST)" in text
    assert "the hours filter rejects it (allowed hours: 1, 2)" in text
    assert "Next run: slot 2024-06-01 23:00:00 UTC" in text


def test_explain_skip_and_empty_slot() -> None:
    schedule = schedule_of(off={"skip": ""}, daily={"startTime": "09:00:00"})
    assert "tagged skip" in schedule.explain("off", "2024-06-01T00:00Z")
    assert "no cycle point falls in this slot" in schedule.explain(
        "daily", "2024-06-01T03:00Z", "1 hour"
    )
