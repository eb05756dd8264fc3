"""The package root exports exactly its curated names, lazily."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import maestro_nb

INIT = Path(maestro_nb.__file__)


def _type_checking_imports() -> set[str]:
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    guarded = next(node for node in tree.body if isinstance(node, ast.If))
    return {
        alias.name
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert maestro_nb.__all__ == sorted(maestro_nb.__all__)
    for name in maestro_nb.__all__:
        assert getattr(maestro_nb, name) is not None, name


def test_lazy_exports_match_the_static_imports_type_checkers_see() -> None:
    assert set(maestro_nb.__all__) == _type_checking_imports()


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        maestro_nb.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_output_does_not_import_pandas() -> None:
    # A pipeline's kernel calls maestro_nb.output(); it must stay light.
    code = "import sys, maestro_nb; maestro_nb.output; print('pandas' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
