"""DAG-aware dispatch: each run starts as soon as what it waits for is done.

Root runs are queued first, in run order. When a run completes, each of its
downstream pipelines is started right away (through its ``runIf`` and
``map``), so branches move on independently and run side by side within the
pool's workers. A ``collect`` pipeline waits until no run upstream of it is
still going, then runs once on everything its upstreams handed back. A run
that fails, is skipped or cannot start leaves its descendants not run, each
recorded with the reason.

All decisions are taken in the calling thread; the worker threads only wait
on their kernels.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ._conditions import evaluate_run_if
from ._dag import Edges
from ._exceptions import ConditionError, FanOutError, PipelineExecutionError
from ._execution import execute_pipeline
from ._handoff import INLINE_LIMIT, Handoff, file_handoff
from ._kernels import LOG_FOLDER, KernelPool, expected_kernel
from ._localtime import UTC
from ._results import read_value, write_value
from ._status import RunRecord, RunState
from ._tags import PipelineSpec

__all__ = ["Dispatcher", "Job", "run_tree"]

logger = logging.getLogger(__name__)

Runner = Callable[..., RunRecord]
_NOT_RUN_STATES = {
    RunState.SKIPPED: RunState.SKIPPED,
    RunState.NOT_DUE: RunState.NOT_DUE,
}


@dataclass(frozen=True)
class Job:
    """One run to start: a pipeline, its input, and the runs that led to it."""

    spec: PipelineSpec
    scheduled_time: datetime | None
    handoff: Handoff | None = None
    parents: tuple[RunRecord, ...] = ()
    iteration: int | None = None
    order: tuple[int, ...] = ()
    check_run_if: bool = True


class Dispatcher:
    """Runs root jobs and everything downstream of them, in one thread pool.

    Attributes:
        records: every run and every run that did not happen, in creation order.
        links: ``(upstream, downstream)`` record pairs, for the console tree.
    """

    def __init__(
        self,
        pipelines: dict[str, PipelineSpec],
        runs_dir: Path,
        resources: dict[str, object],
        on_record: Callable[[RunRecord], None],
        track: Callable[[Job, Runner], Runner] | None = None,
        remote: Runner | None = None,
    ) -> None:
        self.pipelines = pipelines
        self.edges = Edges(pipelines.values())
        self.runs_dir = runs_dir
        self.resources = resources
        self.on_record = on_record
        self.track = track
        # A remote runner (see ``_dask``) replaces the local kernels.
        self.remote = remote
        self.records: list[RunRecord] = []
        self.links: list[tuple[RunRecord, RunRecord]] = []
        self._order: dict[int, tuple[int, ...]] = {}
        self._active: dict[Future[RunRecord], Job] = {}
        self._collected: set[str] = set()

    def run(self, roots: list[Job], workers: int) -> list[RunRecord]:
        """Run ``roots`` and their downstream DAG; return every record made."""
        ahead = 0 if self.remote is not None else _kernels_ahead(workers)
        kernels = KernelPool(self.runs_dir / LOG_FOLDER, ahead)
        threads = ThreadPoolExecutor(workers, thread_name_prefix="maestro_nb")
        with kernels, threads as pool:
            self._pool, self._kernels = pool, kernels
            for job in roots:
                self._start(job)

            self._fire_collects()
            while self._active:
                done, _ = wait(self._active, return_when=FIRST_COMPLETED)
                for future in done:
                    job = self._active.pop(future)
                    self._follow(self._finished(future, job), job)

                self._fire_collects()

        # Runs of one map come back in iteration order, whatever order they ended.
        return sorted(self.records, key=lambda record: self._order[id(record)])

    def _start(self, job: Job) -> None:
        if job.check_run_if and not self._passes_run_if(job):
            return

        runner = self.remote or execute_pipeline
        work = runner if self.track is None else self.track(job, runner)
        if self.remote is None:
            self._kernels.expect(expected_kernel(job.spec.path))

        future = self._pool.submit(
            work,
            job.spec,
            self.runs_dir,
            resources=self.resources,
            scheduled_time=job.scheduled_time,
            handoff=job.handoff,
            kernels=self._kernels,
        )
        self._active[future] = job

    def _passes_run_if(self, job: Job) -> bool:
        """Evaluate the job's ``runIf``; record a skip or an error when it fails."""
        if job.spec.run_if is None:
            return True

        try:
            value = _handoff_value(job.handoff)
            verdict = evaluate_run_if(job.spec.run_if, self.resources, value)
        except (ConditionError, OSError) as error:
            self._refuse(job, error)
            return False

        if not verdict:
            note = f"runIf {job.spec.run_if!r} is False"
            self._not_run(job, RunState.SKIPPED, note)

        return verdict

    def _finished(self, future: Future[RunRecord], job: Job) -> RunRecord:
        try:
            record = future.result()
        except Exception as error:  # a run that could not start is one failure
            logger.exception("%s: the run could not start", job.spec.path)
            record = self._record(job, RunState.FAILED)
            record.ended = datetime.now(UTC)
            record.error = PipelineExecutionError(
                job.spec.path, type(error).__name__, str(error)
            )
            self.on_record(record)
            return record

        for earlier in record.earlier_attempts:
            self._describe(earlier, job)
            self.on_record(earlier)

        self._describe(record, job)
        self.on_record(record)
        return record

    def _follow(self, record: RunRecord, job: Job) -> None:
        """Start (or record as not run) each non-collect child of a finished run."""
        for child in self.edges.children[record.pipe_name]:
            spec = self.pipelines[child]
            if spec.collect:
                continue

            base = Job(spec, job.scheduled_time, parents=(record,), order=job.order)
            if record.state is RunState.COMPLETED:
                self._launch(base, _artifact_tree(record))
            else:
                self._not_run(base, *_why_not(record))

    def _launch(self, job: Job, files: object) -> None:
        """Start a downstream job on its input files, one run per map element."""
        if job.spec.skip:
            self._not_run(job, RunState.SKIPPED, "tagged skip")
            return

        if job.spec.map_fields is None:
            self._start(_with(job, handoff=file_handoff(files)))
            return

        try:
            elements = _split(read_value(files), job.spec.map_fields)
        except (FanOutError, OSError) as error:
            self._refuse(job, error)
            return

        if not elements:
            self._not_run(job, RunState.SKIPPED, "map over an empty value: no runs")

        folder = self.runs_dir / job.spec.name / "inputs"
        for index, element in enumerate(elements):
            base = folder / f"{job.parents[-1].run_id}_{index:05d}"
            handoff = _element_handoff(element, base)
            order = (*job.order, index)
            self._start(_with(job, handoff=handoff, iteration=index, order=order))

    def _fire_collects(self) -> None:
        """Run each ``collect`` pipeline whose upstream runs are all settled."""
        busy = {job.spec.name for job in self._active.values()}
        for name, spec in self.pipelines.items():
            if not spec.collect or name in self._collected:
                continue

            parents = self.edges.parents[name]
            if busy & (self.edges.ancestors(name) | set(parents)):
                continue

            runs = {p: [r for r in self.records if r.pipe_name == p] for p in parents}
            if any(runs.values()):
                self._collected.add(name)
                self._collect(spec, runs)

    def _collect(self, spec: PipelineSpec, runs: dict[str, list[RunRecord]]) -> None:
        succeeded = {
            parent: sorted(
                (r for r in found if r.state is RunState.COMPLETED),
                key=lambda r: self._order.get(id(r), ()),
            )
            for parent, found in runs.items()
        }
        parents = tuple(r for found in succeeded.values() for r in found)
        time = next((r.scheduled_time for r in parents), None)
        job = Job(spec, time, parents=parents)
        lacking = [p for p, found in succeeded.items() if not found]
        if lacking:
            self._not_run(job, *self._why_not_collected(lacking[0], runs[lacking[0]]))
            return

        tree = {p: self._collected_files(p, found) for p, found in succeeded.items()}
        self._launch(job, tree if len(tree) > 1 else next(iter(tree.values())))

    def _collected_files(self, parent: str, found: list[RunRecord]) -> object:
        if len(found) > 1 or self._fans_out(parent):
            return [_artifact_tree(record) for record in found]

        return _artifact_tree(found[0])

    def _fans_out(self, name: str) -> bool:
        """Whether a pipeline runs once per element of some ``map`` upstream."""
        spec = self.pipelines[name]
        if spec.map_fields is not None:
            return True

        return not spec.collect and any(map(self._fans_out, self.edges.parents[name]))

    def _why_not_collected(
        self, parent: str, found: list[RunRecord]
    ) -> tuple[RunState, str]:
        if not found:
            return RunState.NOT_DUE, f"waiting for {parent}, which did not run"

        return _why_not(found[-1])

    def _not_run(self, job: Job, state: RunState, note: str) -> None:
        """Record a run that did not happen, and the same for its descendants."""
        record = self._record(job, state)
        record.note = note
        self.on_record(record)
        self._not_run_below(job, record, state, f"upstream {record.label} did not run")

    def _not_run_below(
        self, job: Job, record: RunRecord, state: RunState, note: str
    ) -> None:
        """Record every descendant of a run that did not happen (collects wait)."""
        for child in self.edges.children[job.spec.name]:
            spec = self.pipelines[child]
            if not spec.collect:
                below = Job(
                    spec, job.scheduled_time, parents=(record,), order=job.order
                )
                self._not_run(below, state, note)

    def _refuse(self, job: Job, error: Exception) -> None:
        """Record a run refused by its ``runIf`` or ``map``, as a failure."""
        logger.error("%s: %s", job.spec.path, error)
        failure = PipelineExecutionError(
            job.spec.path, type(error).__name__, str(error)
        )
        record = self._record(job, RunState.FAILED)
        record.error = failure
        self.on_record(record)
        self._not_run_below(
            job, record, RunState.UPSTREAM_FAILED, f"{record.label} failed"
        )

    def _record(self, job: Job, state: RunState) -> RunRecord:
        record = RunRecord(
            job.spec.name, job.spec.path, state, scheduled_time=job.scheduled_time
        )
        self._describe(record, job)
        return record

    def _describe(self, record: RunRecord, job: Job) -> None:
        """Attach the run's lineage and keep it among the records."""
        record.iteration = job.iteration
        record.input_run_ids = tuple(p.run_id for p in job.parents if p.run_id)
        record.lineage = _lineage(job)
        self._order[id(record)] = job.order
        self.records.append(record)
        self.links.extend((parent, record) for parent in job.parents[-1:])


def _kernels_ahead(workers: int) -> int:
    """How many queued runs get their kernel started before a worker is free.

    A kernel takes longer to start than a short notebook takes to run, so
    even one worker is kept fed by two kernels starting side by side.
    """
    return max(2, workers)


def _with(job: Job, **changes: object) -> Job:
    fields = {**job.__dict__, **changes}
    return Job(**fields)


def _lineage(job: Job) -> str:
    if not job.parents:
        return job.spec.name

    if len(job.parents) == 1:
        upstream = job.parents[0].lineage or job.parents[0].pipe_name
        return f"{upstream}->{job.spec.name}"

    names = dict.fromkeys(parent.pipe_name for parent in job.parents)
    return f"{'&'.join(names)}->{job.spec.name}"


def _why_not(record: RunRecord) -> tuple[RunState, str]:
    """Return the state and note of a run whose upstream ``record`` did not complete."""
    if record.state.is_failure or record.state is RunState.UPSTREAM_FAILED:
        return RunState.UPSTREAM_FAILED, f"{record.label} {record.state.value}"

    state = _NOT_RUN_STATES.get(record.state, RunState.SKIPPED)
    return state, f"upstream {record.label} did not run ({record.state.value})"


def _artifact_tree(record: RunRecord) -> str | None:
    if record.artifact_file is None:
        return None

    return str(record.artifact_file.resolve())


def _handoff_value(handoff: Handoff | None) -> object:
    if handoff is None:
        return None

    return read_value(handoff.files) if handoff.needs_loader else handoff.value


def _split(value: object, fields: tuple[str, ...]) -> list[object]:
    from ._fanout import split_value  # pandas is only needed once a map splits

    return split_value(value, fields)


def _element_handoff(element: object, base: Path) -> Handoff:
    """Pass a small JSON element inline; spill anything else to a file."""
    path = write_value(base, element)
    if path.suffix == ".json" and path.stat().st_size <= INLINE_LIMIT:
        path.unlink()
        return Handoff(value=element)

    return Handoff(files=str(path.resolve()))


def run_tree(
    records: list[RunRecord], links: list[tuple[RunRecord, RunRecord]]
) -> list[str]:
    """Return the DAG runs as an indented tree, each run under its upstream run."""
    below: dict[int, list[RunRecord]] = {}
    for upstream, downstream in links:
        below.setdefault(id(upstream), []).append(downstream)

    linked = {id(downstream) for _, downstream in links}
    lines: list[str] = []
    for record in records:
        if id(record) not in linked and id(record) in below:
            _tree_lines(record, below, 1, lines)

    return lines


def _tree_lines(
    record: RunRecord, below: dict[int, list[RunRecord]], depth: int, lines: list[str]
) -> None:
    text = f"{'  ' * depth}{record.label}  {record.state.value}"
    if record.duration is not None:
        text += f"  {record.duration:.1f} s"

    if record.note:
        text += f"  ({record.note})"

    lines.append(text)
    for child in below.get(id(record), []):
        _tree_lines(child, below, depth + 1, lines)
