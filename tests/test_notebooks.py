"""Reading the first cell of a notebook, whatever the rest of the file holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from notebook_factory import write_pipeline

import maestro_nb
from maestro_nb._exceptions import TagError
from maestro_nb._notebooks import assigned_names, load_notebook, read_first_cell

TAGS = {"frequency": "1 hour"}


def test_tags_and_parameters_come_from_the_first_cell(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, "p", TAGS, source="a = 1\nb, c = 2, 3\nd: int = 4")
    first = read_first_cell(path)
    assert first.tags == TAGS and first.has_tags
    assert first.declared_parameters == {"a", "b", "c", "d"}


def test_keys_in_any_order(tmp_path: Path) -> None:
    # A notebook not written keys-first: metadata and version before the cells.
    path = tmp_path / "p.ipynb"
    text = (
        '{"metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, '
        '"nbformat_minor": 5, "cells": [{"cell_type": "code", "metadata": '
        '{"maestro": {"frequency": "1 hour"}}, "source": "x = 1", "outputs": []}]}'
    )
    path.write_text(text, encoding="utf-8")
    assert read_first_cell(path).tags == TAGS


def test_reading_stops_after_the_first_cell(tmp_path: Path) -> None:
    # Everything after the first cell is garbage: it is never read.
    path = write_pipeline(tmp_path, "p", TAGS)
    text = path.read_text(encoding="utf-8")
    cut = text.index('"metadata": {\n  "kernelspec"')
    path.write_text(text[:cut] + "this is not JSON" + "x" * 5_000_000)
    assert read_first_cell(path).tags == TAGS


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b'{"cells": [', "not valid JSON", id="truncated"),
        pytest.param(b"print('hello')", "not valid JSON", id="not-json"),
        pytest.param(b'{"cells": []}', "no cells", id="no-cells"),
        pytest.param(
            json.dumps({"worksheets": [{"cells": []}], "nbformat": 3}).encode(),
            "nbformat 3",
            id="nbformat-3",
        ),
        pytest.param(b'{"cells": [\xff\xfe]}', "invalid char", id="bad-bytes"),
        pytest.param(b'{"cells": [{"source": "\xff"}]}', "UTF8", id="not-utf8"),
        pytest.param(b"", "not valid JSON", id="empty-file"),
        pytest.param(b'{"cells": ["text"]}', "not a JSON object", id="cell-not-object"),
    ],
)
def test_bad_files_raise_tag_errors_naming_the_file(
    tmp_path: Path, content: bytes, fragment: str
) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    with pytest.raises(TagError, match=fragment) as caught:
        read_first_cell(path)
    assert str(path) in str(caught.value)


def test_first_cell_without_parameters_tag_declares_nothing_known(
    tmp_path: Path,
) -> None:
    path = tmp_path / "p.ipynb"
    cell = {"cell_type": "markdown", "metadata": {"maestro": TAGS}, "source": "# Hi"}
    path.write_text(json.dumps({"cells": [cell], "nbformat": 4}), encoding="utf-8")
    assert read_first_cell(path).declared_parameters is None


def test_magics_in_parameters_cell_declare_nothing() -> None:
    assert assigned_names("%matplotlib inline\nx = 1") == frozenset()


PERCENT_PIPELINE = """\
# %% tags=["parameters"] maestro={"frequency": "1 hour", "tz": "Europe/Paris"}
region = "north"

# %%
print(region)
"""

MARKDOWN_PIPELINE = """\
---
jupyter:
  jupytext:
    text_representation:
      extension: .md
      format_name: markdown
---

```python tags=["parameters"] maestro={"frequency": "1 day"}
limit = 3
```
"""


def test_text_notebooks_are_pipelines_and_other_text_files_are_not(
    tmp_path: Path,
) -> None:
    (tmp_path / "prices.py").write_text(PERCENT_PIPELINE, encoding="utf-8")
    (tmp_path / "report.md").write_text(MARKDOWN_PIPELINE, encoding="utf-8")
    (tmp_path / "helpers.py").write_text("def f():\n    return 1\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("# Pipelines\n", encoding="utf-8")

    schedule = maestro_nb.build_schedule(tmp_path, quiet=True)

    assert schedule.build_errors == []
    assert sorted(schedule.pipelines) == ["prices", "report"]
    prices = schedule.pipeline("prices")
    assert prices.tz_name == "Europe/Paris"
    assert prices.declared_parameters == {"region"}
    assert schedule.pipeline("report").declared_parameters == {"limit"}


def test_text_notebook_loads_with_an_explicit_kernel(tmp_path: Path) -> None:
    path = tmp_path / "prices.py"
    path.write_text(PERCENT_PIPELINE, encoding="utf-8")
    notebook = load_notebook(path)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert [cell.source for cell in notebook.cells] == [
        'region = "north"',
        "print(region)",
    ]
