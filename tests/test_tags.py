"""Tag parsing: string and JSON forms, and errors that name file, tag and fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from maestro_nb._tags import PipelineSpec, TagErrors, parse_tags

PATH = Path("pipelines/daily_weather.ipynb")


def parse(tags: dict[str, Any]) -> PipelineSpec:
    return parse_tags(tags, name="daily_weather", path=PATH)


def error_text(tags: object) -> str:
    with pytest.raises(TagErrors) as caught:
        parse_tags(tags, name="daily_weather", path=PATH)

    return str(caught.value)


def test_empty_tags_take_every_default() -> None:
    spec = parse({})
    assert (spec.frequency.amount, spec.frequency.unit) == (1, "day")
    assert spec.tz_name == "UTC" and not spec.skip and spec.priority is None
    assert spec.log_level == "INFO" and spec.start.kind == "none"


@pytest.mark.parametrize(
    ("tag", "string_form", "json_form"),
    [
        pytest.param("hours", "1 4 7", [1, 4, 7], id="hours"),
        pytest.param("days", "Mon Wed", ["Mon", "Wed"], id="weekdays"),
        pytest.param("days", "1 15", [1, 15], id="month-days"),
        pytest.param("months", "3 8 12", [3, 8, 12], id="months"),
        pytest.param("skip", "true", True, id="skip"),
        pytest.param("priority", "2", 2, id="priority"),
        pytest.param("flags", "critical etl", ["critical", "etl"], id="flags"),
        pytest.param("outputs", "load", ["load"], id="outputs"),
        pytest.param("map", "ids labels", ["ids", "labels"], id="map"),
    ],
)
def test_string_and_json_forms_agree(
    tag: str, string_form: str, json_form: Any
) -> None:
    base = {"frequency": "1 hour"}
    assert parse({**base, tag: string_form}) == parse({**base, tag: json_form})


def test_dag_tags_are_parsed() -> None:
    spec = parse(
        {"inputs": "collect(extract, verify)", "runIf": "maestro_input > 2", "map": ""}
    )
    assert spec.inputs == ("extract", "verify") and spec.collect
    assert spec.run_if == "maestro_input > 2" and spec.map_fields == ()


def test_labels_are_a_json_object() -> None:
    spec = parse({"labels": {"domain": "transport", "owner": "data-team"}})
    assert spec.labels == {"domain": "transport", "owner": "data-team"}
    assert "expected a JSON object" in error_text({"labels": "owner data"})


def test_error_names_file_tag_value_and_valid_forms() -> None:
    text = error_text({"frequency": "every tuesday"})
    assert str(PATH) in text and "'frequency'" in text and "'every tuesday'" in text
    assert "hourly, daily, weekly" in text


def test_unknown_tag_suggests_the_closest_valid_one() -> None:
    text = error_text({"frequncy": "1 day"})
    assert "unknown tag" in text and "did you mean 'frequency'" in text


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(TagErrors) as caught:
        parse_tags(
            {"frequency": "1 day", "hours": "3", "tz": "Mars/Olympus", "priority": 0},
            name="p",
            path=PATH,
        )
    assert {error.tag for error in caught.value.errors} == {"hours", "tz", "priority"}


@pytest.mark.parametrize(
    ("tags", "fragment"),
    [
        pytest.param("1 day", "must be a JSON object", id="maestro-not-object"),
        pytest.param(
            {"runIf": "maestro_input >"},
            "not a Python expression",
            id="run-if-syntax",
        ),
        pytest.param(
            {"runIf": "__import__('os').getcwd()"},
            "unknown name '__import__'",
            id="run-if-refused-at-build",
        ),
        pytest.param({"logLevel": "LOUD"}, "ERROR, WARN, INFO, DEBUG", id="log-level"),
        pytest.param({"hours": [True]}, "not an integer", id="hours-bool"),
        pytest.param({"inputs": ""}, "at least one upstream", id="inputs-empty"),
        pytest.param({"startTime": 1230}, "expected a string", id="start-not-string"),
        pytest.param({"startTime": "25:00:00"}, "out of range", id="start-hour-25"),
        pytest.param(
            {"frequency": "1 year", "startTime": "15"},
            "not years: use 12 months",
            id="month-day-with-years",
        ),
    ],
)
def test_bad_values_are_refused(tags: object, fragment: str) -> None:
    assert fragment in error_text(tags)


def test_twelve_months_accepts_a_month_day_start() -> None:
    assert parse({"frequency": "12 months", "startTime": "15"}).start.month_day == 15
