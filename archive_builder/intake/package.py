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
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.uid import UID

from ..config import Limits
from .copies import HIDDEN, find_hidden_copies
from .errors import IntakeError
from .record import RECORD_FILE, DonationRecord, read_record

DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
_CHUNK = 1024 * 1024
DEFER_BYTES = 4096
# Attributes read before de-identification (grouping files into studies and patients,
# the risk check): a file whose values of these cannot be read is skipped.
_READ_FIRST = (
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "StudyDate",
    "Modality",
    "ImageType",
    "BurnedInAnnotation",
    "RecognizableVisualFeatures",
    "SeriesNumber",
    "InstanceNumber",
)


@dataclass(frozen=True)
class Instance:
    """One DICOM file of the package, with its header (read without pixel data)."""

    path: Path
    header: Dataset


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


def _inflated_size(path: Path) -> int:
    """The size of a deflated file's dataset once inflated (pydicom reads it inflated, and
    the positions of its values are positions in the inflated bytes); -1 if it does not
    inflate."""
    with path.open("rb") as handle:
        read_preamble(handle, False)
        _read_file_meta_info(handle)
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        total = 0
        try:
            while chunk := handle.read(_CHUNK):
                total += len(inflater.decompress(chunk, _CHUNK))
                while inflater.unconsumed_tail:
                    total += len(inflater.decompress(inflater.unconsumed_tail, _CHUNK))
            total += len(inflater.flush())
        except zlib.error:
            return -1
    return total


def _truncated(ds: Dataset, path: Path) -> bool:
    """Whether a deferred value (pixel data above all) runs past the end of the file (of
    the inflated dataset, for a deflated file)."""
    if UID(ds.file_meta.get("TransferSyntaxUID", "")).is_deflated:
        size = _inflated_size(path)
    else:
        size = path.stat().st_size
    for tag in list(ds.keys()):
        raw = ds.get_item(tag, keep_deferred=True)
        tell, length = getattr(raw, "value_tell", None), getattr(raw, "length", 0)
        if tell is not None and length != 0xFFFFFFFF and tell + length > size:
            return True
    return False


def read_header(path: Path) -> tuple[Dataset | None, str | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # Large values (pixel data above all) are deferred: known to exist, not loaded.
            ds = dcmread(path, defer_size=DEFER_BYTES)
        except InvalidDicomError:
            try:
                forced = dcmread(path, stop_before_pixels=True, force=True)
            except Exception:
                return None, "not a DICOM file"
            if len(forced) and "SOPClassUID" in forced:
                return None, "not a valid DICOM file (readable only with force=True)"
            return None, "not a DICOM file"
        except Exception:
            return None, "a damaged or truncated DICOM file"
    meta = ds.file_meta
    if str(meta.get("MediaStorageSOPClassUID", "")) == DICOMDIR_CLASS:
        return None, "a DICOMDIR (a media index, not an image)"
    if "TransferSyntaxUID" not in meta:
        return None, "a DICOM file without a transfer syntax in its file meta"
    try:
        # copies of an attribute that pydicom dropped: read before any element is decoded
        deflated = UID(meta.TransferSyntaxUID).is_deflated
        hidden = [] if deflated else find_hidden_copies(ds, path)
    except Exception:  # bytes between two elements that are not elements
        return None, "a damaged DICOM file (bytes between two elements are not elements)"
    if hidden:
        object.__setattr__(ds, HIDDEN, hidden)
    try:
        if _truncated(ds, path):
            return None, "a damaged or truncated DICOM file"
        # what grouping and the risk check read must be readable as text
        for keyword in _READ_FIRST:
            _ = str(ds.get(keyword, ""))
    except Exception:  # a value of an unknown VR, or stored in a way pydicom cannot read
        return None, "a DICOM file whose identifying or risk attributes cannot be read"
    if not ds.get("StudyInstanceUID") or not ds.get("SOPInstanceUID"):
        return None, "a DICOM file without Study or SOP Instance UID"
    return ds, None


def _survey(root: Path, files: list[Path], label: str) -> tuple[list[Instance], list[str]]:
    instances: list[Instance] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for path in files:
        if path.parent == root and path.name == RECORD_FILE:
            continue
        header, reason = read_header(path)
        if header is None:
            skipped.append(reason or "unreadable")
            continue
        uid = str(header.SOPInstanceUID)
        if uid in seen:
            skipped.append("a second copy of an instance already in the package")
            continue
        seen.add(uid)
        instances.append(Instance(path, header))
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
