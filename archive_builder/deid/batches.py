"""Running de-identification batches, here or in worker processes.

A batch is some files of one study, de-identified into the study's staging
folder; batches travel to the workers in tasks of about ``TASK_FILES`` files.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from pathlib import Path

from pydicom.dataset import Dataset

from .. import pixels
from ..intake import HeaderBytes
from .engine import Donor
from .errors import DeidError, LeakError
from .identifiers import Identifiers
from .study import Excluded, Output, process_one

TASK_FILES = 8
Where = tuple[int, int]  # a batch's result: (task, position in the task)
# (input file, relative output path, the bytes its header was read from and its identifying
# values collected from, its size and modification time when surveyed)
Item = tuple[Path, str, HeaderBytes, tuple[int, int]]
CHANGED = (
    "a file changed or went away after the folder was surveyed; run deid again on a folder "
    "that nothing writes to meanwhile"
)


def file_stamp(path: Path) -> tuple[int, int]:
    """Size and modification time: a file that changes after the survey is not
    de-identified with identifiers collected from what it held before."""
    status = path.stat()
    return status.st_size, status.st_mtime_ns


@dataclass(frozen=True)
class Batch:
    items: list[Item]
    staging: Path
    donor: Donor
    identifiers: Identifiers


@dataclass(frozen=True)
class BatchResult:
    outputs: list[Output]
    excluded: list[Excluded]  # what the pixel stage did not publish
    tally: Counter[tuple[str, str]]
    problems: list[str]
    error: str | None


def _series_decisions(batch: Batch) -> list[pixels.Decision]:
    """What the pixel stage decides for each series of the batch as a whole."""
    groups: dict[str, list[int]] = {}
    for index, (_, relpath, _, _) in enumerate(batch.items):
        groups.setdefault(relpath.split("/", 1)[0], []).append(index)
    decisions = [pixels.KEEP] * len(batch.items)
    for indices in groups.values():
        items = [batch.items[i] for i in indices]
        # the first header tells a CT or MR series, which the pixel stage reads whole
        path, _, held, _ = items[0]
        headers: list[Dataset | None] = [held.parse(path), *([None] * (len(items) - 1))]
        found = pixels.review_series(headers, [p for p, _, _, _ in items])
        for index, decision in zip(indices, found, strict=True):
            decisions[index] = decision
    return decisions


def run_batch(batch: Batch) -> BatchResult:
    tally: Counter[tuple[str, str]] = Counter()
    outputs: list[Output] = []
    excluded: list[Excluded] = []
    for path, _, _, stamp in batch.items:
        try:
            changed = file_stamp(path) != stamp
        except OSError:
            changed = True
        if changed:  # its identifiers were collected from what it held before
            return BatchResult(outputs, excluded, tally, [], CHANGED)
    series = _series_decisions(batch)
    for (path, relpath, held, stamp), decision in zip(batch.items, series, strict=True):
        try:
            changed = file_stamp(path) != stamp
        except OSError:
            changed = True
        if changed:
            return BatchResult(outputs, excluded, tally, [], CHANGED)
        try:
            target = batch.staging / relpath
            header = held.parse(path)  # the header its identifying values were collected from
            out = process_one(path, target, batch.donor, batch.identifiers, tally, header, decision)
        except LeakError as exc:
            return BatchResult(outputs, excluded, tally, exc.problems, None)
        except DeidError as exc:
            return BatchResult(outputs, excluded, tally, [], str(exc))
        if isinstance(out, Excluded):
            excluded.append(out)
        else:
            outputs.append(replace(out, relpath=relpath))
    return BatchResult(outputs, excluded, tally, [], None)


def run_batches(batches: list[Batch]) -> list[BatchResult]:
    return [run_batch(batch) for batch in batches]


class Tasks:
    """Batches sent to the workers in tasks of about ``TASK_FILES`` files: a task per batch
    would cost more in sending and waking than a small study takes to de-identify."""

    def __init__(self, executor: Executor):
        self.executor = executor
        self.futures: list[Future[list[BatchResult]]] = []
        self.waiting: list[Batch] = []

    def add(self, batch: Batch) -> Where:
        """Queue ``batch``; where its result will be: (task, position in the task)."""
        self.waiting.append(batch)
        where = len(self.futures), len(self.waiting) - 1
        if sum(len(b.items) for b in self.waiting) >= TASK_FILES:
            self.flush()
        return where

    def flush(self) -> None:
        if self.waiting:
            self.futures.append(self.executor.submit(run_batches, self.waiting))
            self.waiting = []

    def result(self, where: Where) -> BatchResult:
        task, position = where
        return self.futures[task].result()[position]
