"""Where parallel work runs: here, in a few local processes, or on a Dask cluster.

Every stage with many independent items (``ingest``: one task per donation
package; ``deid``: batches of files) hands them to :func:`workers`, and the
stage's code does not know where they run:

- **here**, in this process, for one item or ``jobs=1``, or when the whole job
  is shorter than starting any worker would be;
- **local processes** of the standard library (forked, ready in ~20 ms) for
  short jobs on this machine;
- **Dask** (``dask.distributed``) for everything longer: a ``LocalCluster`` of
  one single-threaded process per core, or the running cluster whose scheduler
  address is given. Importing ``dask.distributed`` and starting a local cluster
  costs 1-4 s on the 2-core reference machine (docs/scaling.md), which would
  more than double a 150-file ``deid`` run; past ``DASK_FROM`` seconds of work
  that cost is under 5%, and Dask brings what a long job needs: a task whose
  worker dies is run again elsewhere, and the same code runs on a cluster.

Dask is imported only when it is used, so commands start fast.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from . import __version__
from .errors import ArchiveError

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
V = TypeVar("V")
Progress = Callable[[int, int], None]

HERE_UNDER = 0.1  # seconds of one-core work: below, forking and sending work saves nothing
DASK_FROM = 30.0  # seconds of one-core work: from here a Dask cluster's start-up costs < 5%
CONNECT_SECONDS = 10  # to reach a scheduler, and for it to have a worker
_POLL_SECONDS = 0.5  # how often progress is reported while waiting for a result


class WorkersError(ArchiveError, RuntimeError):
    """The Dask cluster cannot be reached or cannot run archive-builder's tasks."""


@dataclass(frozen=True)
class Lost:
    """An item whose task never finished: its worker died (killed, out of memory) every
    time it ran, more often than the scheduler retries a task."""

    message: str


class Inline(Executor):
    """Runs each task at once, in this process."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        future: Future[object] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


class Workers:
    """An executor (``submit``, ``map``) and what kind it is; ``run`` gives results in order."""

    def __init__(
        self, executor: Executor, kind: str, count: int, lost: tuple[type[BaseException], ...]
    ):
        self.executor = executor
        self.kind = kind  # here | processes | dask
        self.count = count
        self._lost = lost

    @property
    def here(self) -> bool:
        return self.kind == "here"

    def run(
        self, fn: Callable[[T], R], items: Iterable[T], progress: Progress | None = None
    ) -> Iterator[R | Lost]:
        """``fn(item)`` for every item, yielded in the items' order as soon as each is ready.

        Here, each runs when its turn comes; elsewhere all are submitted at once.
        ``progress(done, total)`` counts finished tasks, in whatever order they finish.
        """
        items = list(items)
        total = len(items)
        if self.here:
            for done, item in enumerate(items, start=1):
                result = fn(item)
                if progress:
                    progress(done, total)
                yield result
            return
        futures = [self.executor.submit(fn, item) for item in items]
        pending = set(futures)
        reported = -1
        try:
            for future in futures:
                while not future.done():
                    _done, pending_now = wait(
                        pending, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED
                    )
                    pending = set(pending_now)
                    if progress and total - len(pending) != reported:
                        reported = total - len(pending)
                        progress(reported, total)
                pending.discard(future)
                outcome: R | Lost = self._result(future)
                yield outcome
            if progress and reported != total:
                progress(total, total)
        finally:
            for future in pending:
                future.cancel()

    def _result(self, future: Future[V]) -> V | Lost:
        try:
            return future.result()
        except self._lost as exc:
            return Lost(
                "the worker running it died every time it was tried (killed, or out of "
                f"memory?: {type(exc).__name__}); nothing of it was kept, give it again"
            )


def estimate_kind(jobs: int, items: int, seconds: float, scheduler: str | None) -> str:
    """Where a job of ``items`` items and about ``seconds`` of one-core work should run."""
    if scheduler:
        return "dask"
    if jobs <= 1 or items <= 1 or seconds < HERE_UNDER:
        return "here"
    return "processes" if seconds < DASK_FROM else "dask"


@contextmanager
def workers(
    *,
    scheduler: str | None = None,
    jobs: int | None = None,
    items: int = 2,
    seconds: float = float("inf"),
) -> Iterator[Workers]:
    """Workers for a job: ``scheduler`` (a Dask scheduler's address) runs it on that
    cluster; otherwise ``jobs`` processes on this machine (default: all cores), chosen
    by the job's size (``items`` tasks, about ``seconds`` of work on one core)."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    kind = estimate_kind(jobs, items, seconds, scheduler)
    if kind == "here":
        yield Workers(Inline(), "here", 1, ())
    elif kind == "processes":
        with ProcessPoolExecutor(min(jobs, items)) as pool:
            yield Workers(pool, "processes", min(jobs, items), (BrokenProcessPool,))
    else:
        with _dask(scheduler, jobs) as dask_workers:
            yield dask_workers


# A local cluster's own upkeep, set for the processes it starts. Dask's defaults suit
# interactive work with a dashboard: a sampling profiler every 10 ms in each worker, an
# event-loop tick every 20 ms and a memory check every 100 ms in every process. On the
# 2-core reference machine an idle two-worker cluster then used 15% of a core
# (docs/scaling.md), CPU taken from the tasks; with these, under 2%. Nothing here changes
# what runs: the nanny still restarts a worker over its memory limit, within a second.
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.scheduler.work-stealing-interval": "1s",
}


@contextmanager
def _dask(scheduler: str | None, jobs: int) -> Iterator[Workers]:
    import dask
    from distributed import Client, KilledWorker, LocalCluster

    if scheduler is None:
        with dask.config.set(QUIET_CLUSTER):
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=jobs,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
                yield Workers(_executor(client), "dask", jobs, (KilledWorker,))
        return
    try:
        client = Client(scheduler, timeout=CONNECT_SECONDS)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        raise WorkersError(
            f"no Dask scheduler answers at {scheduler} ({exc}); check the address, start one "
            "with `dask scheduler` and its workers with `dask worker ADDRESS`, or leave out "
            "--scheduler to work on this machine."
        ) from None
    with client:
        count = _check_cluster(client, scheduler)
        yield Workers(_executor(client), "dask", count, (KilledWorker,))


def _version() -> str:
    return __version__


def _check_cluster(client: Any, scheduler: str) -> int:
    """The number of workers, once the cluster has one that runs this version."""
    try:
        client.wait_for_workers(1, timeout=CONNECT_SECONDS)
    except TimeoutError:
        raise WorkersError(
            f"the Dask scheduler at {scheduler} has no worker; start some with "
            f"`dask worker {scheduler}` on machines that see the archive's folder."
        ) from None
    try:
        versions = client.run(_version)
    except Exception as exc:  # the workers cannot even import archive_builder
        raise WorkersError(
            f"the workers of {scheduler} cannot run archive-builder ({exc}); install "
            f"archive-builder {__version__} in every worker's environment."
        ) from None
    wrong = sorted(address for address, version in versions.items() if version != __version__)
    if wrong:
        raise WorkersError(
            f"workers of {scheduler} run another archive-builder version than this one "
            f"({__version__}): {', '.join(wrong)}; install the same version everywhere."
        )
    return len(versions)


def _executor(client: Any) -> Executor:
    executor: Executor = client.get_executor(pure=False)  # tasks have side effects
    return executor
