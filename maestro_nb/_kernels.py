"""Kernels started ahead of their runs, each one handed to exactly one run.

Starting a Python kernel takes about half a second, most of the time a short
notebook needs. A :class:`KernelPool` starts the kernels of the runs waiting
in the queue while the current runs execute, and shuts each finished kernel
down in the background. Every kernel still serves a single notebook and dies
with it, so no state passes from one run to the next.

A kernel is started in its notebook's folder, with the orchestrator's
environment, before anyone knows which run it will serve. The run's own
variables (where ``output()``, ``run_dir()`` and the capture hooks write) are
set in the kernel by a silent execution just before the notebook's first
cell; it leaves no trace in the executed notebook. The kernel's stdout and
stderr go to a log file that is renamed to the run's ``.kernel.log`` when the
kernel is handed out (the process keeps writing to the renamed file).

Kernels are started and shut down on one event loop in a thread of the pool's
own, so the manager's sockets always stay on the loop that made them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import subprocess
import threading
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.client import KernelClient
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import DeadKernelError
from traitlets import DottedObjectName, Type

from ._faults import KERNELS
from ._notebooks import NOTEBOOK_SUFFIX, read_kernel_name

__all__ = ["KernelKey", "KernelPool", "RunKernelManager", "expected_kernel"]

logger = logging.getLogger(__name__)

CAPTURE_EXTENSION = "maestro_nb._capture"
# The history database is written at start-up and exit of every kernel, and
# kernels started side by side wait on its lock; a batch run never reads it.
KERNEL_ARGUMENTS = (
    f"--IPKernelApp.extensions={CAPTURE_EXTENSION}",
    "--HistoryManager.enabled=False",
)
# The debugger's frozen-modules notice is noise in a batch run.
KERNEL_ENV = {"PYDEVD_DISABLE_FILE_VALIDATION": "1"}
# How long a finished kernel may take to exit on request before it is killed.
SHUTDOWN_WAIT = 2.0
# nbclient's own default wait for a new kernel to answer, in seconds.
_READY_TIMEOUT = 60.0
LOG_FOLDER = ".kernels"
DEFAULT_KERNEL = "python3"

_T = TypeVar("_T")


@dataclass(frozen=True)
class KernelKey:
    """What a kernel is started for: its kernelspec name and its folder."""

    name: str
    cwd: Path


def expected_kernel(notebook: Path) -> KernelKey:
    """Return the kernel a notebook will most likely need, without parsing it.

    A guess that turns out wrong only costs a kernel started for nothing.
    """
    name = None
    if notebook.suffix == NOTEBOOK_SUFFIX:
        name = read_kernel_name(notebook)

    return KernelKey(name or DEFAULT_KERNEL, notebook.parent.resolve())


class RunKernelClient(AsyncKernelClient):
    """A client that gives the kernel its run's variables once it is ready."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        """Wait for the kernel, then set the run's variables in it silently.

        Raises:
            DeadKernelError: the kernel died before it took the variables.
            RuntimeError: the kernel refused the variables.
        """
        await KernelClient._async_wait_for_ready(self, timeout)
        env = getattr(self.parent, "run_env", None)
        if not env:
            return

        code = f"__import__('os').environ.update({env!r})"
        reply = await self._reply_while_alive(code, timeout or _READY_TIMEOUT)
        if reply["content"].get("status") != "ok":
            raise RuntimeError("the kernel could not take the run's variables")

    async def _reply_while_alive(self, code: str, timeout: float) -> dict[str, Any]:
        """Run ``code`` silently, asking again until it answers or the kernel dies.

        A kernel killed while it sets up (the orchestrator was stopped, say)
        never replies; waiting out the whole start-up timeout would hold the
        run, so the wait is cut into short slices with a liveness check in
        between. Setting the variables twice does no harm.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                reply: dict[str, Any] = await self.execute(
                    code, silent=True, store_history=False, reply=True, timeout=1.0
                )
                return reply
            except TimeoutError:
                if not await self._is_alive() or KERNELS.stopping.is_set():
                    raise DeadKernelError(
                        "the kernel died while it was set up"
                    ) from None

                if loop.time() > deadline:
                    raise

    async def _is_alive(self) -> bool:
        parent = self.parent
        if parent is None:
            return True

        alive = parent.is_alive()
        return bool(await alive if inspect.isawaitable(alive) else alive)


class RunKernelManager(AsyncKernelManager):
    """A kernel manager that remembers its clients, so a run can close them.

    nbclient leaves the channels of a kernel it did not start open, so the
    run closes them itself before the kernel is shut down.
    """

    client_class = DottedObjectName("maestro_nb._kernels.RunKernelClient")
    client_factory = Type(RunKernelClient)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_env: dict[str, str] = {}
        self.clients: list[AsyncKernelClient] = []
        self.log_path: Path | None = None

    def client(self, **kwargs: Any) -> AsyncKernelClient:  # type: ignore[override]
        """Return a client for the kernel, and remember it."""
        made: AsyncKernelClient = super().client(**kwargs)
        self.clients.append(made)
        return made

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The kernel's process, once it started."""
        return getattr(self.provisioner, "process", None)

    def close_clients(self) -> None:
        """Close the channels of every client made for this kernel."""
        for made in self.clients:
            made.stop_channels()

        self.clients.clear()


class KernelPool:
    """Starts the kernels of upcoming runs early; each kernel serves one run.

    Tell the pool of each queued run with :meth:`expect`; a run then takes
    its kernel with :meth:`kernel`. The kernels of the first ``ahead``
    expected runs are started at once; a run that finds none ready starts
    its own. Use the pool as a context manager: leaving it shuts down every
    kernel that was never used and waits for the shutdowns still going.
    """

    def __init__(self, log_folder: Path, ahead: int = 0) -> None:
        self.log_folder = log_folder
        self.ahead = ahead
        self._lock = threading.Lock()
        self._wanted: list[KernelKey] = []
        self._spare: dict[KernelKey, list[Future[RunKernelManager]]] = {}
        self._stopping: list[Future[None]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="maestro_nb-kernels", daemon=True
        )
        self._thread.start()

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def expect(self, key: KernelKey) -> None:
        """Note that a run needing a kernel of ``key`` is queued."""
        with self._lock:
            self._wanted.append(key)
            self._refill()

    @contextmanager
    def kernel(
        self, key: KernelKey, env: dict[str, str], log: Path
    ) -> Iterator[RunKernelManager]:
        """Hand out a started kernel for one run, and shut it down afterwards.

        Args:
            key: the kernel the run needs.
            env: the run's variables, set in the kernel before its notebook.
            log: where the kernel's own stdout and stderr end up.

        Raises:
            Exception: whatever starting the kernel raised (no such kernel,
                no free port).
        """
        manager = self._take(key).result()
        try:
            manager.run_env = dict(env)
            _move_log(manager, log)
            yield manager
        finally:
            manager.close_clients()
            self._retire(manager)

    def close(self) -> None:
        """Shut down the kernels never handed out; wait for every shutdown."""
        with self._lock:
            self._wanted.clear()
            unused = [future for spares in self._spare.values() for future in spares]
            self._spare.clear()

        for future in unused:
            if future.exception() is None:
                self._retire(future.result(), discard_log=True)

        for stopping in self._stopping:
            stopping.result()

        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        _remove_if_empty(self.log_folder)

    def _take(self, key: KernelKey) -> Future[RunKernelManager]:
        with self._lock:
            if key in self._wanted:
                self._wanted.remove(key)

            spares = self._spare.get(key)
            found = spares.pop(0) if spares else self._start(key)
            self._refill()

        return found

    def _refill(self) -> None:
        """Start kernels until the first ``ahead`` queued runs each have one."""
        if KERNELS.stopping.is_set():
            return

        needed = Counter(self._wanted[: self.ahead])
        for key, count in needed.items():
            spares = self._spare.setdefault(key, [])
            while len(spares) < count:
                spares.append(self._start(key))

    def _start(self, key: KernelKey) -> Future[RunKernelManager]:
        self.log_folder.mkdir(parents=True, exist_ok=True)
        log = self.log_folder / f"{uuid.uuid4().hex}.kernel.log"
        return self._submit(_start_kernel(key, log))

    def _retire(self, manager: RunKernelManager, discard_log: bool = False) -> None:
        """Shut a kernel down in the background."""
        stopping = self._submit(_stop_kernel(manager, discard_log))
        with self._lock:
            self._stopping = [f for f in self._stopping if not f.done()]
            self._stopping.append(stopping)

    def _submit(self, work: Coroutine[Any, Any, _T]) -> Future[_T]:
        return asyncio.run_coroutine_threadsafe(work, self._loop)


async def _start_kernel(key: KernelKey, log: Path) -> RunKernelManager:
    manager = RunKernelManager(kernel_name=key.name)
    manager.shutdown_wait_time = SHUTDOWN_WAIT
    manager.log_path = log
    env = {**os.environ, **KERNEL_ENV}
    with log.open("ab") as handle:
        # The process keeps its own copy of the descriptor.
        await manager.start_kernel(
            env=env,
            cwd=str(key.cwd),
            stdout=handle,
            stderr=handle,
            extra_arguments=list(KERNEL_ARGUMENTS),
        )

    if manager.process is not None:
        # A stopped orchestrator kills the kernels it holds in reserve too.
        KERNELS.add(manager.process)

    logger.debug("started kernel %s for %s", manager.kernel_id, key)
    return manager


async def _stop_kernel(manager: RunKernelManager, discard_log: bool) -> None:
    process = manager.process
    try:
        # nbclient has already shut down a kernel that never answered.
        if manager.has_kernel:
            await manager.shutdown_kernel()
    except Exception:  # a kernel that will not stop must not fail the run
        logger.exception("kernel %s did not shut down cleanly", manager.kernel_id)

    if process is not None:
        KERNELS.discard(process)

    if discard_log and manager.log_path is not None:
        manager.log_path.unlink(missing_ok=True)


def _move_log(manager: RunKernelManager, log: Path) -> None:
    if manager.log_path is None:
        return

    log.parent.mkdir(parents=True, exist_ok=True)
    os.replace(manager.log_path, log)
    manager.log_path = log


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # missing, or still holding a log
        pass
