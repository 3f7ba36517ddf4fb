"""Opening a donation package: a folder or a .zip, treated as hostile until checked.

Everything that can be refused on sight is refused before a byte is extracted
or a file is read in full: paths that escape the package, symlinks pointing
outside it, absurd sizes, counts or compression ratios.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydicom.dataset import Dataset

from ..config import Limits
from .errors import IntakeError
from .header import HeaderBytes, read_header_bytes, summary
from .header import read_header as read_header  # where callers found it before
from .record import RECORD_FILE, DonationRecord, read_record

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Instance:
    """One DICOM file of the package: its header (without pixel data), and the bytes it
    was read from.

    Where ``header_bytes`` is given, ``header`` holds only the few attributes read
    before de-identification (``header.summary``) and the whole header is parsed
    again from the bytes each time it is needed (``dataset``): a study's headers
    all wait in memory until its last file is de-identified.
    """

    path: Path
    header: Dataset
    header_bytes: HeaderBytes | None = None

    def dataset(self) -> Dataset:
        """The whole header, as intake read it."""
        if self.header_bytes is None:
            return self.header
        return self.header_bytes.parse(self.path)


@dataclass(frozen=True)
class Package:
    source: Path
    record: DonationRecord
    instances: tuple[Instance, ...]
    skipped: tuple[str, ...]  # one reason per skipped file; no file names (they may identify)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _check_folder(root: Path, limits: Limits, label: str) -> list[Path]:
    files: list[Path] = []
    total = 0
    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(real_root):
                    raise IntakeError(
                        f"{label}: {path.relative_to(root)} is a symlink pointing outside the "
                        "package; send the file itself instead of a link."
                    )
        for name in filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):
                continue  # symlinks inside the package and special files are not followed
            if info.st_size > limits.max_file_bytes:
                raise IntakeError(
                    f"{label}: a file of {_size(info.st_size)} is larger than any DICOM object "
                    f"should be (limit {_size(limits.max_file_bytes)}); check the export."
                )
            total += info.st_size
            files.append(path)
            if len(files) > limits.max_package_files:
                raise IntakeError(
                    f"{label}: more than {limits.max_package_files} files; one study "
                    "should not need that many (raise [limits] max_package_files if it does)."
                )
    if total > limits.max_package_bytes:
        raise IntakeError(
            f"{label}: {_size(total)} in all, more than the limit of "
            f"{_size(limits.max_package_bytes)}."
        )
    return sorted(files)


def _check_zip(archive: zipfile.ZipFile, limits: Limits, label: str) -> list[zipfile.ZipInfo]:
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > limits.max_package_files:
        raise IntakeError(
            f"{label}: the zip holds {len(archive.infolist())} entries, more than the limit of "
            f"{limits.max_package_files}; refused before extracting anything."
        )
    total = 0
    for member in archive.infolist():
        name = member.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
            raise IntakeError(
                f"{label}: the zip entry {name!r} would be written outside the package "
                "(absolute path or '..'); refused before extracting anything."
            )
        mode = member.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise IntakeError(
                f"{label}: the zip entry {name!r} is a symlink; packages must hold plain files."
            )
        if member.file_size > limits.max_file_bytes:
            raise IntakeError(
                f"{label}: the zip entry {name!r} unpacks to {_size(member.file_size)}, larger "
                f"than any DICOM object should be (limit {_size(limits.max_file_bytes)})."
            )
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _CHUNK and ratio > limits.max_compression_ratio:
            raise IntakeError(
                f"{label}: the zip entry {name!r} expands {ratio:.0f} times; that is a zip bomb, "
                "not imaging data. Refused before extracting anything."
            )
        total += member.file_size
    if total > limits.max_package_bytes:
        raise IntakeError(
            f"{label}: the zip unpacks to {_size(total)}, more than the limit of "
            f"{_size(limits.max_package_bytes)}; refused before extracting anything."
        )
    # Many small entries each under the floor above still add up: bound the whole zip too.
    compressed = sum(m.compress_size for m in members)
    ratio = total / max(compressed, 1)
    if total > _CHUNK and ratio > limits.max_compression_ratio:
        raise IntakeError(
            f"{label}: the zip expands {ratio:.0f} times as a whole ({len(members)} entries, "
            f"{_size(total)}); that is a zip bomb, not imaging data. Refused before "
            "extracting anything."
        )
    return members


def _check_space(scratch: Path, needed: int, label: str) -> None:
    free = shutil.disk_usage(scratch).free
    if needed > free:
        raise IntakeError(
            f"{label}: the zip unpacks to {_size(needed)} but only {_size(free)} is free on the "
            f"disk holding {scratch}; free some space and ingest it again."
        )


def _extract(
    archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], dest: Path, label: str
) -> None:
    for member in members:
        target = dest.joinpath(*PurePosixPath(member.filename.replace("\\", "/")).parts)
        if not target.resolve().is_relative_to(dest.resolve()):
            raise IntakeError(f"{label}: the zip entry {member.filename!r} escapes the package.")
        target.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with archive.open(member) as source, target.open("wb") as sink:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > member.file_size:
                    raise IntakeError(
                        f"{label}: the zip entry {member.filename!r} holds more than its header "
                        "says; the zip is damaged or forged."
                    )
                sink.write(chunk)


def _find_record(root: Path, label: str) -> Path:
    direct = root / RECORD_FILE
    if direct.is_file():
        return root
    children = [p for p in root.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    if len(children) == 1 and children[0].is_dir() and (children[0] / RECORD_FILE).is_file():
        return children[0]
    raise IntakeError(
        f"{label}: no {RECORD_FILE} at the top of the package; the portal writes it next to "
        "the DICOM files (see the donation contract)."
    )


def _survey(root: Path, files: list[Path], label: str) -> tuple[list[Instance], list[str]]:
    instances: list[Instance] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for path in files:
        if path.parent == root and path.name == RECORD_FILE:
            continue
        held, header, reason = read_header_bytes(path)
        if held is None or header is None:
            skipped.append(reason or "unreadable")
            continue
        uid = str(header.SOPInstanceUID)
        if uid in seen:
            skipped.append("a second copy of an instance already in the package")
            continue
        seen.add(uid)
        instances.append(Instance(path, summary(header), held))
    if not instances:
        raise IntakeError(
            f"{label}: holds no DICOM file"
            + (f" ({len(skipped)} other file{'s' if len(skipped) > 1 else ''})" if skipped else "")
            + "; a package holds the DICOM files of one study."
        )
    studies = {str(i.header.StudyInstanceUID) for i in instances}
    if len(studies) > 1:
        raise IntakeError(
            f"{label}: holds files of {len(studies)} studies; a package holds exactly one "
            "study. Split it into one package per study."
        )
    patients = {str(i.header.get("PatientID", "")).strip() for i in instances} - {""}
    if len(patients) > 1:
        raise IntakeError(
            f"{label}: holds files of {len(patients)} patients; a package holds the study of "
            "one patient. Check the export."
        )
    return instances, skipped


@contextmanager
def open_package(source: Path, limits: Limits, scratch: Path) -> Iterator[Package]:
    """Check and open a package; zips are extracted under ``scratch`` and removed afterwards."""
    label = str(source)
    if source.is_dir():
        files = _check_folder(source, limits, label)
        root = _find_record(source, label)
        record = read_record(root / RECORD_FILE, label)
        instances, skipped = _survey(root, [f for f in files if f.is_relative_to(root)], label)
        yield Package(source, record, tuple(instances), tuple(skipped))
        return
    if not source.exists():
        raise IntakeError(f"{label}: no such file or folder.")
    if not zipfile.is_zipfile(source):
        raise IntakeError(
            f"{label}: not a folder or a .zip archive; a package is a folder (or a zip of one) "
            f"holding {RECORD_FILE} and the DICOM files of one study."
        )
    scratch.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="unzip-", dir=scratch))
    try:
        try:
            with zipfile.ZipFile(source) as archive:
                members = _check_zip(archive, limits, label)
                _check_space(workdir, sum(m.file_size for m in members), label)
                _extract(archive, members, workdir, label)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise IntakeError(f"{label}: the zip cannot be read ({exc}).") from None
        root = _find_record(workdir, label)
        record = read_record(root / RECORD_FILE, label)
        files = _check_folder(workdir, limits, label)
        instances, skipped = _survey(root, [f for f in files if f.is_relative_to(root)], label)
        yield Package(source, record, tuple(instances), tuple(skipped))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
