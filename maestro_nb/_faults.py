"""Run-time faults: hung notebooks, dead kernels, retries, a stopped orchestrator.

Every kernel a run starts is registered in :data:`KERNELS` while it lives,
which gives the orchestrator a hand on each process:

* a run's :class:`Watchdog` interrupts its kernel once the ``timeout`` has
  passed (``KeyboardInterrupt`` in the running cell, so papermill saves the
  cells run so far), then kills it if it still runs ``KILL_GRACE_SECONDS``
  later;
* :func:`stop_on_signals` turns SIGINT and SIGTERM into an orderly stop: every
  kernel is killed at once, the runs they held end as ``interrupted``, nothing
  new starts, and the run's status and history are written before the
  signal is delivered again with its usual effect;
* :func:`run_attempts` runs a pipeline again after a failure, as its
  ``retries`` tag says.

A kernel leads a process session of its own (jupyter_client starts it so),
so killing its process group also ends what the notebook started.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import FrameType
from typing import TypeVar

from ._exceptions import PipelineExecutionError
from ._status import RunRecord, RunState
from ._tags import PipelineSpec, parse_duration

__all__ = [
    "KERNELS",
    "KILL_GRACE_SECONDS",
    "KernelProcesses",
    "Watchdog",
    "dead_kernel_error",
    "outcome",
    "run_attempts",
    "stop_on_signals",
    "with_run_defaults",
]

logger = logging.getLogger(__name__)

KILL_GRACE_SECONDS = 2.0
# Failures worth another try. A timeout would most likely hang again and hold
# a worker for another full timeout; an interrupted run was stopped on purpose.
RETRIED_STATES = frozenset({RunState.FAILED, RunState.KERNEL_DIED})
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_T = TypeVar("_T")
# What a run stopped by the orchestrator ends with: the interrupt in the cell,
# or the kernel gone.
_STOPPED_ERRORS = frozenset({"KeyboardInterrupt", "DeadKernelError"})


class KernelProcesses:
    """The kernel processes this orchestrator started that may still run.

    Attributes:
        stopping: set once the orchestrator was told to stop; a kernel that
            starts afterwards is killed at once and no new run starts.
        stop_signal: the signal that stopped it, if one did.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._live: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping = threading.Event()
        self.stop_signal: int | None = None

    def add(self, process: subprocess.Popen[bytes]) -> None:
        """Register a kernel that just started (killed at once while stopping)."""
        with self._lock:
            if self.stopping.is_set():
                kill_kernel(process)
                return

            self._live[process.pid] = process

    def discard(self, process: subprocess.Popen[bytes]) -> None:
        """Forget a kernel whose run has ended."""
        with self._lock:
            self._live.pop(process.pid, None)

    def stop(self, signum: int | None = None) -> None:
        """Stop everything: kill every live kernel and refuse new ones."""
        with self._lock:
            self.stop_signal = signum
            self.stopping.set()
            for process in list(self._live.values()):
                kill_kernel(process)

    def reset(self) -> None:
        """Allow runs again after a stop (a new orchestrator run in this process)."""
        with self._lock:
            self.stopping.clear()
            self.stop_signal = None

    def live_pids(self) -> list[int]:
        """Return the pids of the kernels registered now."""
        with self._lock:
            return [pid for pid, p in self._live.items() if p.poll() is None]


KERNELS = KernelProcesses()


def kill_kernel(process: subprocess.Popen[bytes]) -> None:
    """Kill a kernel and whatever it started in its process group."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass

    try:
        process.kill()
    except ProcessLookupError:
        pass


class Watchdog:
    """Ends the kernel of a run that outlives its timeout: interrupt, then kill.

    Use it as a context manager around the run; the kernel manager calls
    :meth:`attach` once the kernel process exists.

    The clock starts with the run, so a run's timeout includes its kernel's
    start-up (a fraction of a second when the kernel was started ahead).

    Attributes:
        timeout: seconds the whole notebook may take (None: no limit).
        fired: the timeout was reached.
        process: the run's kernel process, once it started.
    """

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.fired = False
        self.process: subprocess.Popen[bytes] | None = None
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Watchdog:
        if self.timeout is not None:
            self._later(self.timeout, self._interrupt)

        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            for timer in self._timers:
                timer.cancel()

        if self.process is not None:
            KERNELS.discard(self.process)

    def attach(self, process: subprocess.Popen[bytes]) -> None:
        """Watch a kernel that just started (killed at once if time is up)."""
        with self._lock:
            self.process = process
            late = self.fired

        KERNELS.add(process)
        if late:
            kill_kernel(process)

    def exit_description(self) -> str:
        """Describe how the kernel process ended: an exit code or a signal."""
        code = self.process.poll() if self.process is not None else None
        if code is None:
            return "its exit status is unknown"

        if code < 0:
            name = signal.Signals(-code).name
            return f"killed by signal {name}"

        return f"exit code {code}"

    def _later(self, seconds: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        with self._lock:
            self._timers.append(timer)

        timer.start()

    def _interrupt(self) -> None:
        with self._lock:
            self.fired = True
            process = self.process

        if process is None or process.poll() is not None:
            return

        logger.warning("kernel %s: timeout reached, interrupting it", process.pid)
        try:
            os.kill(process.pid, signal.SIGINT)
        except ProcessLookupError:
            return

        self._later(KILL_GRACE_SECONDS, lambda: kill_kernel(process))


def dead_kernel_error(
    error: PipelineExecutionError, watch: Watchdog
) -> PipelineExecutionError:
    """Return the error of a run whose kernel died, saying how it died."""
    why = watch.exit_description()
    if error.ename != "DeadKernelError":
        return error

    return PipelineExecutionError(
        error.path,
        error.ename,
        f"the kernel died ({why}) before the notebook completed",
        cell_index=error.cell_index,
        output_notebook=error.output_notebook,
    )


def outcome(error: PipelineExecutionError | None, watch: Watchdog) -> RunState:
    """Name how a run ended, from its error and what the orchestrator did to it."""
    if error is None:
        return RunState.COMPLETED

    # The notebook's own error stands when it came first: the timer may fire
    # while a kernel that already failed is being shut down.
    stopped_here = error.ename in _STOPPED_ERRORS
    if watch.fired and stopped_here:
        return RunState.TIMED_OUT

    if KERNELS.stopping.is_set() and stopped_here:
        return RunState.INTERRUPTED

    if error.ename == "DeadKernelError":
        return RunState.KERNEL_DIED

    return RunState.FAILED


def run_attempts(
    attempt: Callable[[int], RunRecord], retries: int, delay: float
) -> RunRecord:
    """Run ``attempt(1)``, then again after each retriable failure, ``retries`` times.

    Returns:
        The last attempt's record; the earlier ones, each marked ``retried``,
        are in its ``earlier_attempts``.
    """
    earlier: list[RunRecord] = []
    record = attempt(1)
    while (
        record.state in RETRIED_STATES
        and len(earlier) < retries
        and not KERNELS.stopping.wait(delay)  # the delay, cut short by a stop
    ):
        record.retried = True
        record.note = f"{record.state.value}; tried again"
        earlier.append(record)
        record = attempt(len(earlier) + 1)

    record.earlier_attempts = earlier
    return record


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into an orderly stop of the runs inside the block.

    On a signal every kernel is killed at once and the block goes on to
    record how each run ended. When the block is done, the handlers are put
    back and the signal is delivered again, so a SIGINT still raises
    ``KeyboardInterrupt`` and a SIGTERM still ends the process. Outside the
    main thread (where Python allows no handler) the block runs unguarded.
    """
    KERNELS.reset()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    previous = {signum: signal.getsignal(signum) for signum in _STOP_SIGNALS}
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _stop)

    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    if KERNELS.stop_signal is not None:
        signal.raise_signal(KERNELS.stop_signal)


def _stop(signum: int, frame: FrameType | None) -> None:
    logger.warning(
        "%s received: stopping every running pipeline", signal.Signals(signum).name
    )
    KERNELS.stop(signum)


def with_run_defaults(
    pipelines: dict[str, PipelineSpec],
    timeout: object = None,
    retries: int = 0,
    retry_delay: object = 0,
) -> dict[str, PipelineSpec]:
    """Give each pipeline the run's timeout and retries where its tags set none.

    Raises:
        ValueError: a default is not a valid duration or retry count.
    """
    default_timeout = None if timeout is None else parse_duration(timeout)
    delay = 0.0 if retry_delay in (0, None) else parse_duration(retry_delay)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a whole number, 0 or more, not {retries!r}")

    return {
        name: replace(
            spec,
            timeout=_own(spec.timeout, default_timeout),
            retries=_own(spec.retries, retries),
            retry_delay=_own(spec.retry_delay, delay),
        )
        for name, spec in pipelines.items()
    }


def _own(tagged: _T | None, default: _T) -> _T:
    return default if tagged is None else tagged
