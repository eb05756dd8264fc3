"""``map``: splitting an upstream value into one downstream run per element.

With no field names (``"map": ""``) the value itself is split:

* a list or tuple gives its elements;
* a pandas DataFrame gives its rows, each as a dict of column to value;
* a pandas Series gives its values;
* a dict gives its items, each as a ``(key, value)`` tuple.

With field names (``"map": "ids labels"``) the value is a dict (or a
DataFrame, read as a dict of column lists) and those fields are zipped: run
``i`` receives the whole dict with each named field replaced by its ``i``-th
element. A field of length 1, or a scalar, is the same in every run; any
other difference in length is an error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._exceptions import FanOutError

__all__ = ["split_value"]


def split_value(value: object, fields: tuple[str, ...]) -> list[object]:
    """Return the ``maestro_input`` of each run of a ``map``, in order.

    Raises:
        FanOutError: the value cannot be split that way.
    """
    if not fields:
        return _elements(value)

    return _zipped(_as_fields(value, fields), fields)


def _elements(value: object) -> list[object]:
    if isinstance(value, pd.DataFrame):
        return list(value.to_dict("records"))

    if isinstance(value, pd.Series | np.ndarray):
        return list(value.tolist())

    if isinstance(value, list | tuple):
        return list(value)

    if isinstance(value, dict):
        return list(value.items())

    raise FanOutError(
        (),
        f"cannot split a {type(value).__name__}; hand back a list, tuple, dict "
        "or DataFrame upstream, or name the fields to zip",
    )


def _as_fields(value: object, fields: tuple[str, ...]) -> dict[str, object]:
    if isinstance(value, pd.DataFrame):
        value = {str(column): value[column].tolist() for column in value.columns}

    if not isinstance(value, dict):
        raise FanOutError(
            fields,
            f"expected a dict or a DataFrame holding those fields, got a "
            f"{type(value).__name__}",
        )

    missing = [name for name in fields if name not in value]
    if missing:
        raise FanOutError(
            fields,
            f"the upstream value has no field {missing[0]!r} "
            f"(it has {', '.join(map(repr, value)) or 'none'})",
        )

    return dict(value)


def _zipped(value: dict[str, object], fields: tuple[str, ...]) -> list[object]:
    columns = {name: _column(value[name]) for name in fields}
    lengths = {name: len(column) for name, column in columns.items()}
    count = max(lengths.values())
    if any(length not in (1, count) for length in lengths.values()):
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise FanOutError(
            fields,
            f"the fields differ in length ({shown}); each must have the same "
            "length, or length 1 to be used in every run",
        )

    return [
        value
        | {
            name: column[0 if len(column) == 1 else i]
            for name, column in columns.items()
        }
        for i in range(count)
    ]


def _column(item: object) -> Sequence[object]:
    """Return a field's elements; a scalar (or a string) is one element."""
    if isinstance(item, pd.Series | np.ndarray):
        return list(item.tolist())

    if isinstance(item, list | tuple):
        return item

    return [item]
