"""``runIf``: a pipeline's condition, evaluated in the orchestrator before it runs.

The expression sees two names, ``resources`` and ``maestro_input``, and a few
plain builtins. It is checked node by node before it is evaluated: calls go
only to those builtins or to public methods of the values, attributes starting
with an underscore are refused (no way to ``__class__`` or ``__globals__``),
and there is no lambda, assignment, import or ``**``. A condition is a test
on data, not a program.
"""

from __future__ import annotations

import ast
from typing import Any

from ._exceptions import ConditionError

__all__ = ["check_run_if", "evaluate_run_if"]

_SAFE_BUILTINS: dict[str, Any] = {
    func.__name__: func
    for func in (
        abs,
        all,
        any,
        bool,
        dict,
        float,
        int,
        isinstance,
        len,
        list,
        max,
        min,
        round,
        set,
        sorted,
        str,
        sum,
        tuple,
    )  # fmt: skip
}
_CONSTANTS = {"True", "False", "None"}
_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
    ast.UAdd, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv,
    ast.Mod, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
    ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.IfExp, ast.Call, ast.keyword,
    ast.Name, ast.Load, ast.Store, ast.Constant, ast.List, ast.Tuple, ast.Set,
    ast.Dict, ast.Subscript, ast.Slice, ast.Attribute, ast.GeneratorExp,
    ast.ListComp, ast.SetComp, ast.comprehension,
)  # fmt: skip
# str.format and friends reach attributes through the format string itself.
_REFUSED_ATTRIBUTES = {"format", "format_map", "mro"}


def evaluate_run_if(
    expression: str, resources: dict[str, object], maestro_input: object
) -> bool:
    """Evaluate a ``runIf`` expression and return its verdict.

    Raises:
        ConditionError: the expression uses something refused, raises, or
            returns something other than a boolean.
    """
    tree = _checked_tree(expression)
    scope = {"resources": resources, "maestro_input": maestro_input}
    try:
        result = eval(  # noqa: S307 - the tree was checked node by node above
            compile(tree, "<runIf>", "eval"),
            {"__builtins__": _SAFE_BUILTINS},
            scope,
        )
    except Exception as error:  # whatever the expression raises is the user's
        raise ConditionError(
            expression, f"it raised {type(error).__name__}: {error}"
        ) from error

    if type(result).__name__ not in ("bool", "bool_"):
        raise ConditionError(
            expression,
            f"it returned {result!r} ({type(result).__name__}), not True or "
            "False; compare explicitly, e.g. 'len(maestro_input) > 0'",
        )

    return bool(result)


def check_run_if(expression: str) -> None:
    """Refuse, at build time, a condition that could never be evaluated.

    Raises:
        ConditionError: the expression does not parse or uses what a runIf
            may not (unknown names, underscores, lambdas, imports).
    """
    _checked_tree(expression)


def _checked_tree(expression: str) -> ast.Expression:
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as error:
        raise ConditionError(
            expression, f"not a Python expression: {error.msg}"
        ) from None

    local_names = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.comprehension)
        for target in ast.walk(node.target)
        if isinstance(target, ast.Name)
    }
    allowed = {"resources", "maestro_input", *_SAFE_BUILTINS, *_CONSTANTS}
    for node in ast.walk(tree):
        _check_node(expression, node, allowed | local_names)

    return tree


def _check_node(expression: str, node: ast.AST, names: set[str]) -> None:
    if not isinstance(node, _ALLOWED_NODES):
        raise ConditionError(
            expression, f"{type(node).__name__} is not allowed in a runIf"
        )

    if isinstance(node, ast.Name) and node.id not in names:
        raise ConditionError(
            expression,
            f"unknown name {node.id!r}; a runIf sees only resources, "
            f"maestro_input and {', '.join(sorted(_SAFE_BUILTINS))}",
        )

    if isinstance(node, ast.Attribute) and (
        node.attr.startswith("_") or node.attr in _REFUSED_ATTRIBUTES
    ):
        raise ConditionError(expression, f"attribute {node.attr!r} is not allowed")
