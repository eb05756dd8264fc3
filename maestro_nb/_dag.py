"""The DAG between pipelines: its edges, and the checks made when it is built.

An edge is drawn by a downstream pipeline's ``inputs`` or by an upstream's
``outputs``; both mean the same. :func:`check_dag` refuses, naming the
notebooks involved, a pipeline that feeds itself, names a pipeline that does
not exist, sits on a cycle, or is downstream without declaring
``maestro_input``. A refused pipeline is not scheduled, nor is anything
downstream of it; the rest of the schedule is unaffected. Schedule tags on a
downstream pipeline only earn a warning: they are ignored, since a
downstream pipeline runs whenever its upstream does.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace

from ._exceptions import TagError
from ._handoff import INPUT_PARAMETER
from ._notebooks import assigned_names, load_notebook, read_first_cell
from ._tags import PipelineSpec

__all__ = ["DagCheck", "Edges", "check_dag"]

# Tags that set when a pipeline runs; a downstream pipeline runs with its root.
SCHEDULE_TAGS = ("frequency", "startTime", "tz", "hours", "days", "months", "priority")


class Edges:
    """The edges among a set of pipelines, both ways round."""

    def __init__(self, specs: Iterable[PipelineSpec]) -> None:
        specs = list(specs)
        names = {spec.name for spec in specs}
        self.children: dict[str, list[str]] = {spec.name: [] for spec in specs}
        self.parents: dict[str, list[str]] = {spec.name: [] for spec in specs}
        for upstream, downstream in _edges(specs):
            if upstream in names and downstream in names:
                _add(self.children[upstream], downstream)
                _add(self.parents[downstream], upstream)

    def ancestors(self, name: str) -> set[str]:
        """Return every pipeline upstream of ``name``."""
        return _reach(name, self.parents)

    def descendants(self, name: str) -> set[str]:
        """Return every pipeline downstream of ``name``."""
        return _reach(name, self.children)

    def tree_order(self, names: Iterable[str]) -> list[str]:
        """Order pipelines as trees: each root (in the given order), then below it.

        A pipeline below two roots comes after the first one.
        """
        ordered: dict[str, None] = {}
        names = list(names)
        for root in (n for n in names if not self.parents.get(n)):
            frontier = [root]
            while frontier:
                current = frontier.pop(0)
                if current not in ordered:
                    ordered[current] = None
                    frontier.extend(self.children.get(current, []))

        ordered.update(dict.fromkeys(names))
        return list(ordered)


@dataclass(frozen=True)
class DagCheck:
    """The outcome of :func:`check_dag`.

    Attributes:
        specs: the pipelines that may be scheduled (``outputs`` naming a
            refused pipeline are dropped from them).
        errors: ``(pipeline name, error)`` for each refused pipeline.
        warnings: one sentence per ignored tag set, naming the notebook.
    """

    specs: list[PipelineSpec]
    errors: list[tuple[str, TagError]]
    warnings: list[str]


def check_dag(specs: Iterable[PipelineSpec], unbuilt: Collection[str] = ()) -> DagCheck:
    """Check the DAG drawn by the pipelines' ``inputs`` and ``outputs`` tags.

    Args:
        specs: the pipelines whose own tags were valid.
        unbuilt: names of notebooks that failed to build, so that a reference
            to one is reported as such, not as an unknown name.
    """
    by_name = {spec.name: spec for spec in specs}
    errors: dict[str, TagError] = {}
    for spec in by_name.values():
        error = _reference_error(spec, by_name, unbuilt) or _input_error(spec, by_name)
        if error is not None:
            errors[spec.name] = error

    errors.update(_cycle_errors(by_name, errors))
    _refuse_downstream(by_name, errors)
    kept = [
        _without_refused(s, errors) for s in by_name.values() if s.name not in errors
    ]
    return DagCheck(kept, list(errors.items()), _ignored_tag_warnings(kept))


def _edges(specs: Iterable[PipelineSpec]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for spec in specs:
        found.extend((upstream, spec.name) for upstream in spec.inputs)
        found.extend((spec.name, downstream) for downstream in spec.outputs)

    return list(dict.fromkeys(found))


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def _reach(name: str, links: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    frontier = list(links.get(name, []))
    while frontier:
        current = frontier.pop()
        if current not in found:
            found.add(current)
            frontier.extend(links.get(current, []))

    return found


def _reference_error(
    spec: PipelineSpec, by_name: dict[str, PipelineSpec], unbuilt: Collection[str]
) -> TagError | None:
    for tag, names in (("inputs", spec.inputs), ("outputs", spec.outputs)):
        for name in names:
            if name == spec.name:
                return TagError(
                    f"pipeline {name!r} names itself; a pipeline cannot feed itself",
                    path=spec.path,
                    tag=tag,
                    value=list(names),
                )

            if name not in by_name:
                return TagError(
                    _unknown_reason(name, by_name, unbuilt),
                    path=spec.path,
                    tag=tag,
                    value=list(names),
                )

    return None


def _unknown_reason(
    name: str, by_name: dict[str, PipelineSpec], unbuilt: Collection[str]
) -> str:
    if name in unbuilt:
        return f"pipeline {name!r} did not build (see its own build error)"

    close = difflib.get_close_matches(name, list(by_name), n=1)
    hint = f"; did you mean {close[0]!r} ({by_name[close[0]].path})?" if close else ""
    return f"no pipeline named {name!r} in the schedule{hint}"


def _input_error(
    spec: PipelineSpec, by_name: dict[str, PipelineSpec]
) -> TagError | None:
    """Refuse a downstream notebook that has nowhere to receive its input."""
    upstream = [s.name for s in by_name.values() if spec.name in s.outputs]
    upstream.extend(spec.inputs)
    if not upstream or INPUT_PARAMETER in _declared(spec):
        return None

    return TagError(
        f"it is downstream of {', '.join(dict.fromkeys(upstream))} but its "
        f"parameters cell does not declare {INPUT_PARAMETER!r}; add "
        f"'{INPUT_PARAMETER} = None' to that cell",
        path=spec.path,
    )


def _declared(spec: PipelineSpec) -> frozenset[str]:
    if spec.declared_parameters is not None:
        return spec.declared_parameters

    for cell in load_notebook(spec.path).cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return assigned_names(cell.source)

    return frozenset()


def _cycle_errors(
    by_name: dict[str, PipelineSpec], refused: dict[str, TagError]
) -> dict[str, TagError]:
    """Name the whole loop for every pipeline that sits on a cycle."""
    edges = Edges(s for s in by_name.values() if s.name not in refused)
    errors: dict[str, TagError] = {}
    for name in edges.children:
        loop = _loop_through(name, edges.children)
        if loop:
            errors[name] = TagError(
                f"the DAG has a cycle: {' -> '.join(loop)}; remove one of these "
                "inputs or outputs",
                path=by_name[name].path,
            )

    return errors


def _loop_through(name: str, children: dict[str, list[str]]) -> list[str]:
    """Return the shortest path from ``name`` back to itself, or ``[]``."""
    came_from: dict[str, str] = {}
    frontier = [name]
    while frontier:
        following: list[str] = []
        for current in frontier:
            for child in children[current]:
                if child == name:
                    return [*_path_to(current, came_from, name), name]

                if child not in came_from:
                    came_from[child] = current
                    following.append(child)

        frontier = following

    return []


def _path_to(node: str, came_from: dict[str, str], start: str) -> list[str]:
    path = [node]
    while path[-1] != start:
        path.append(came_from[path[-1]])

    return path[::-1]


def _refuse_downstream(
    by_name: dict[str, PipelineSpec], errors: dict[str, TagError]
) -> None:
    """Refuse, in place, whatever sits downstream of a refused pipeline."""
    edges = Edges(by_name.values())
    for name in list(errors):
        for below in sorted(edges.descendants(name) - set(errors)):
            errors[below] = TagError(
                f"it is downstream of {name!r} ({by_name[name].path}), which is "
                "not scheduled because of its own build error",
                path=by_name[below].path,
            )


def _without_refused(spec: PipelineSpec, errors: dict[str, TagError]) -> PipelineSpec:
    outputs = tuple(name for name in spec.outputs if name not in errors)
    return spec if outputs == spec.outputs else replace(spec, outputs=outputs)


def _ignored_tag_warnings(specs: list[PipelineSpec]) -> list[str]:
    edges = Edges(specs)
    warnings = []
    for spec in specs:
        upstream = edges.parents[spec.name]
        if not upstream:
            continue

        tags = read_first_cell(spec.path).tags
        ignored = [
            tag for tag in SCHEDULE_TAGS if isinstance(tags, dict) and tag in tags
        ]
        if ignored:
            warnings.append(
                f"{spec.path}: tag(s) {', '.join(ignored)} are ignored: a "
                f"downstream pipeline runs whenever its upstream "
                f"({', '.join(upstream)}) runs; remove them"
            )

    return warnings
