"""De-identify a folder of DICOM files: the anonymizer on its own, without an archive.

Files are grouped by patient (one pseudonym and one date offset per patient,
derived from the secret key and the original Patient ID, so intervals
between a patient's studies survive) and by study. Each study is
de-identified and verified file by file exactly as ``ingest`` does it, in
parallel processes, into a staging folder that is renamed into place only
when every file passed: a leak refuses that study and nothing of it is
written. Output names are generated: ``<pseudonym>/study-N/series-NNN/
instance-NNNN.dcm`` with ``deid-report.json`` beside the series.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from pathlib import Path

from pydicom.dataset import Dataset

from .. import keys, pixels
from ..intake import HeaderBytes, Instance, read_header_bytes, summary
from ..workers import Inline, Workers, workers
from .batches import TASK_FILES, Batch, BatchResult, Item, Tasks, Where, file_stamp
from .dates import collision_free_offset
from .engine import Donor, age_string
from .errors import DeidError, LeakError
from .identifiers import Identifiers
from .study import (
    StudyResult,
    collect_identifiers,
    defer_pixel_data,
    move_compacted,
    plan,
    series_of,
)

KEY_BYTES = 32
REPORT = "deid-report.json"
PSEUDONYM_PREFIX = "pt-"
_PSEUDONYM = re.compile(r"^pt-[a-z2-7]{16}$")
_AGE = re.compile(r"^(\d{3})([DWMY])$")
FolderProgress = Callable[[int, int], None]


class FolderError(DeidError):
    """The folders or the key given to ``deid`` cannot be used."""


@dataclass(frozen=True)
class StudyOutcome:
    """What happened to one study (or to the skipped files, with status 'skipped')."""

    status: str  # ok | excluded (nothing publishable) | refused (leak, error) | skipped
    path: str  # the study's output folder relative to OUT_DIR, or the input folder
    message: str
    files: int = 0


def load_or_create_key(path: Path, out_dir: Path) -> bytes:
    """Read the secret key at ``path``; create it (mode 0600) when absent.

    The key is refused inside ``out_dir``: whoever gets the output must never
    get the key, which turns pseudonyms and UIDs back into a lookup.
    """
    if path.resolve().is_relative_to(out_dir.resolve()):
        raise FolderError(
            f"{path}: the key file must not be inside the output folder {out_dir} (whoever "
            "receives the output could undo the pseudonyms); keep it somewhere private."
        )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError):
        key = b""
    except OSError as exc:
        raise FolderError(f"{path}: the key file cannot be read ({exc.strerror}).") from None
    if len(key) != KEY_BYTES:
        raise FolderError(
            f"{path} is not a key file ({KEY_BYTES * 2} hex digits expected); give the path "
            "of an existing key, or of a file that does not exist yet to create one."
        )
    if path.stat().st_mode & 0o077:
        raise FolderError(f"{path} is readable by others; run `chmod 600 {path}`.")
    return key


def pseudonym(key: bytes, patient_id: str) -> str:
    """The patient's pseudonym: keyed, stable, and recognisable again with the same key."""
    body = keys.public_id(key, f"patient\x00{patient_id}").removeprefix(keys.PUBLIC_ID_PREFIX)
    return PSEUDONYM_PREFIX + body + _check(key, body)


def _check(key: bytes, body: str) -> str:
    return keys.public_id(key, f"pseudonym-check\x00{body}")[-4:]


def is_pseudonym(key: bytes, text: str) -> bool:
    """Whether ``text`` is a pseudonym this key made (so a file is already de-identified)."""
    if not _PSEUDONYM.match(text):
        return False
    body = text[len(PSEUDONYM_PREFIX) : -4]
    return _check(key, body) == text[-4:]


def header_age(header: object) -> str:
    """Patient's Age from the header (``090Y`` for 90 and over), or '' when unknown."""
    get = getattr(header, "get", None)
    if get is None:
        return ""
    match = _AGE.match(str(get("PatientAge", "") or "").strip().upper())
    if match:
        number, unit = int(match.group(1)), match.group(2)
        return age_string(number) if unit == "Y" else f"{number:03d}{unit}"
    birth, when = str(get("PatientBirthDate", "") or ""), str(get("StudyDate", "") or "")
    if len(birth) >= 8 and len(when) >= 8 and birth[:8].isdigit() and when[:8].isdigit():
        years = int(when[:4]) - int(birth[:4]) - ((when[4:8]) < (birth[4:8]))
        if 0 <= years < 200:
            return age_string(years)
    return ""


def _donor(key: bytes, sources: list[Instance]) -> Donor:
    header = sources[0].header
    patient_id = str(header.get("PatientID", "") or "").strip()
    if is_pseudonym(key, patient_id):
        name = patient_id  # this engine's own output: the pseudonym stays
    else:
        # no Patient ID: the study stands alone, linked to no other
        name = pseudonym(key, patient_id or f"study\x00{header.get('StudyInstanceUID', '')}")
    return Donor(
        key=key,
        public_id=name,
        date_offset_days=keys.date_offset_days(key, f"patient\x00{name}"),
        patient_age=header_age(header),
        sex=str(header.get("PatientSex", "") or "").strip(),
    )


def _check_folders(in_dir: Path, out_dir: Path) -> None:
    if not in_dir.exists():
        raise FolderError(f"{in_dir}: no such folder; give the folder holding the DICOM files.")
    if not in_dir.is_dir():
        raise FolderError(f"{in_dir}: not a folder; give the folder holding the DICOM files.")
    if out_dir.exists() and not out_dir.is_dir():
        raise FolderError(f"{out_dir}: exists and is not a folder; give a new or empty folder.")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise FolderError(
            f"{out_dir}: not empty; give a new or empty folder (nothing is ever overwritten)."
        )
    inside = out_dir.resolve().is_relative_to(in_dir.resolve())
    if inside or in_dir.resolve().is_relative_to(out_dir.resolve()):
        raise FolderError(
            f"{out_dir}: the output folder must be outside the input folder {in_dir}, and "
            "the other way round."
        )


@dataclass(frozen=True)
class _Surveyed:
    path: Path
    header: Dataset | None  # the summary (``intake.summary``)
    reason: str | None
    identifiers: Identifiers | None
    stamp: tuple[int, int] = (0, 0)
    header_bytes: HeaderBytes | None = None


def _survey_one(path: Path, key: bytes) -> _Surveyed:
    """Read one file's header and collect its identifying values; keep the bytes it was
    read from (a few KB, cheap to send back from a worker process) and the summary the
    main process reads, never the parsed header."""
    if not stat.S_ISREG(path.lstat().st_mode):
        return _Surveyed(path, None, "not a regular file (symlinks are not followed)", None)
    stamp = file_stamp(path)
    held, header, reason = read_header_bytes(path)
    if held is None or header is None:
        return _Surveyed(path, None, reason or "unreadable", None)
    instance = Instance(path, defer_pixel_data(header))
    try:
        identifiers = collect_identifiers([instance], _donor(key, [instance]))
    except DeidError as exc:  # its study is refused, as ingest refuses the package
        identifiers = Identifiers(problem=str(exc))
    return _Surveyed(path, summary(header), None, identifiers, stamp, held)


def files_under(in_dir: Path) -> list[Path]:
    paths: list[Path] = []
    for dirpath, _dirnames, filenames in os.walk(in_dir, followlinks=False):
        paths.extend(Path(dirpath) / name for name in sorted(filenames))
    return paths


def survey(
    in_dir: Path, key: bytes, executor: Executor | None = None, paths: list[Path] | None = None
) -> tuple[list[Instance], dict[Path, Identifiers], dict[Path, tuple[int, int]], list[str]]:
    """The DICOM files under ``in_dir`` (headers only), their identifying values, their
    size and modification time as surveyed, and one reason per skipped file."""
    paths = files_under(in_dir) if paths is None else paths
    executor = executor or Inline()
    surveyed = executor.map(_survey_one, paths, [key] * len(paths), chunksize=16)
    instances: list[Instance] = []
    found: dict[Path, Identifiers] = {}
    stamps: dict[Path, tuple[int, int]] = {}
    skipped: list[str] = []
    seen: set[str] = set()
    for item in surveyed:
        if item.header is None or item.identifiers is None or item.header_bytes is None:
            skipped.append(item.reason or "unreadable")
            continue
        uid = str(item.header.SOPInstanceUID)
        if uid in seen:
            skipped.append("a second copy of an instance already seen")
            continue
        seen.add(uid)
        instances.append(Instance(item.path, item.header, item.header_bytes))
        found[item.path] = item.identifiers
        stamps[item.path] = item.stamp
    return instances, found, stamps, skipped


def group(
    key: bytes, instances: list[Instance], found: dict[Path, Identifiers]
) -> list[tuple[Donor, str, list[Instance], Identifiers]]:
    """(donor, output folder, sources, identifiers) per study; numbered per patient by date.

    All studies of a patient share one date offset, chosen so that no shifted
    date of any of them lands on a date of the originals.
    """
    studies: dict[str, list[Instance]] = {}
    for instance in instances:
        studies.setdefault(str(instance.header.StudyInstanceUID), []).append(instance)
    by_patient: dict[str, list[tuple[Donor, list[Instance]]]] = {}
    for sources in studies.values():
        donor = _donor(key, sources)
        by_patient.setdefault(donor.public_id, []).append((donor, sources))

    def order(item: tuple[Donor, list[Instance]]) -> tuple[str, str]:
        header = item[1][0].header
        return str(header.get("StudyDate", "") or ""), keys.uid(key, str(header.StudyInstanceUID))

    result = []
    for name in sorted(by_patient):
        studies_of = sorted(by_patient[name], key=order)
        merged = [Identifiers.union(found[s.path] for s in sources) for _, sources in studies_of]
        dates = set().union(*(identifiers.dates for identifiers in merged))
        for number, ((donor, sources), identifiers) in enumerate(
            zip(studies_of, merged, strict=True), 1
        ):
            offset = collision_free_offset(donor.date_offset_days, dates)
            result.append(
                (
                    replace(donor, date_offset_days=offset),
                    f"{name}/study-{number}",
                    sources,
                    identifiers,
                )
            )
    return result


def deidentify_folder(
    in_dir: Path,
    out_dir: Path,
    key: bytes,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: FolderProgress | None = None,
) -> Iterator[StudyOutcome]:
    """De-identify every study under ``in_dir`` into ``out_dir``; one outcome per study.

    Files that are not publishable DICOM objects are skipped and counted in
    one outcome with status 'skipped'; a study whose files fail verification
    (or cannot be read in full) is refused and leaves nothing in ``out_dir``.
    """
    _check_folders(in_dir, out_dir)
    paths = files_under(in_dir)
    staging_root = out_dir / ".partial"
    with workers(
        scheduler=scheduler, jobs=jobs, items=len(paths), seconds=len(paths) * SECONDS_PER_FILE
    ) as pool:
        try:
            yield from _deidentify(in_dir, out_dir, key, paths, pool, staging_root, progress)
        finally:
            shutil.rmtree(staging_root, ignore_errors=True)


SECONDS_PER_FILE = 0.005  # one file on one core (README, De-identification benchmark)


def _deidentify(
    in_dir: Path,
    out_dir: Path,
    key: bytes,
    paths: list[Path],
    pool: Workers,
    staging_root: Path,
    progress: FolderProgress | None,
) -> Iterator[StudyOutcome]:
    executor, jobs = pool.executor, pool.count
    instances, found, stamps, skipped = survey(in_dir, key, executor, paths)
    if not instances:
        raise FolderError(
            f"{in_dir}: holds no DICOM file that can be de-identified"
            + (f" ({_counted(skipped)})" if skipped else "")
            + "."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    studies = group(key, instances, found)
    total = sum(len(sources) for _, _, sources, _ in studies)
    done = 0
    pending: list[
        tuple[str, list[Instance], Identifiers, list[dict[str, str]], Path, list[Where]]
    ] = []
    tasks = Tasks(executor)
    for number, (donor, folder, sources, identifiers) in enumerate(studies):
        if identifiers.problem:  # refused below, as ingest refuses the package
            pending.append((folder, sources, identifiers, [], staging_root / "-", []))
            continue
        layout, excluded = plan(sources)
        staging = staging_root / str(number)  # flat: one folder to make and move per study
        batches = [
            tasks.add(Batch(items, staging, donor, identifiers))
            for items in _batched(layout, stamps, jobs)
        ]
        pending.append((folder, sources, identifiers, excluded, staging, batches))
    tasks.flush()
    for folder, sources, identifiers, excluded, staging, batches in pending:
        results = [tasks.result(batch) for batch in batches]
        done += len(sources)
        if progress:
            progress(done, total)
        if identifiers.problem:
            message = f"{identifiers.problem}. Nothing was written for this study."
            yield StudyOutcome("refused", folder, message)
            continue
        yield _finish(out_dir, folder, staging, identifiers, excluded, results)
    if skipped:
        yield StudyOutcome("skipped", str(in_dir), _counted(skipped), len(skipped))


def _batched(
    layout: list[tuple[Instance, str]], stamps: dict[Path, tuple[int, int]], jobs: int
) -> list[list[Item]]:
    """The study's planned instances in batches: a series the pixel stage reviews as a
    whole in one batch, the others in batches spread over the workers."""
    whole: list[list[Item]] = []
    loose: list[Item] = []
    for members in series_of(layout):
        items = [(s.path, relpath, held(s), stamps[s.path]) for s, relpath in members]
        if pixels.whole_series([s.header for s, _ in members]):
            whole.append(items)
        else:
            loose.extend(items)
    size = max(1, min(TASK_FILES, -(-len(loose) // jobs)))
    return whole + [loose[i : i + size] for i in range(0, len(loose), size)]


def held(instance: Instance) -> HeaderBytes:
    if instance.header_bytes is None:  # every surveyed instance has its bytes
        raise DeidError("an instance was surveyed without the bytes of its header")
    return instance.header_bytes


def _finish(
    out_dir: Path,
    folder: str,
    staging: Path,
    identifiers: Identifiers,
    excluded: list[dict[str, str]],
    results: list[BatchResult],
) -> StudyOutcome:
    problems = [p for r in results for p in r.problems]
    errors = [r.error for r in results if r.error]
    excluded = excluded + [
        {"modality": e.modality, "reason": e.reason} for r in results for e in r.excluded
    ]
    if problems or errors or not any(r.outputs for r in results):
        shutil.rmtree(staging, ignore_errors=True)
        if problems or errors:
            reason = str(LeakError(problems)) if problems else str(errors[0])
            return StudyOutcome("refused", folder, f"{reason}. Nothing was written for this study.")
        reasons = "; ".join(sorted({e["reason"] for e in excluded}))
        return StudyOutcome("excluded", folder, f"no instance can be published: {reasons}.")
    study = StudyResult(excluded=excluded, identifiers=identifiers)
    for result in results:
        study.tally.update(result.tally)
        study.outputs.extend(result.outputs)
    study.outputs = move_compacted(staging, study.outputs)
    try:
        gate = study.gate()  # every text that leaves the study passes it
        gate.write_json(staging / REPORT, study.report(), sort_keys=True)
        gate.check_folder(staging, [o.relpath for o in study.outputs])
    except DeidError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        return StudyOutcome("refused", folder, f"{exc}. Nothing was written for this study.")
    target = out_dir / folder
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.replace(target)
    count = len(study.outputs)
    message = f"{count} file{'s' if count != 1 else ''}"
    if excluded:
        message += f", {len(excluded)} not published (see {folder}/{REPORT})"
    return StudyOutcome("ok", folder, message, len(study.outputs))


def _counted(reasons: list[str]) -> str:
    counts = Counter(reasons)
    return "; ".join(f"{n} skipped: {reason}" for reason, n in sorted(counts.items()))
