"""De-identify the instances of one study, verify every file, and report what was done."""

from __future__ import annotations

import logging
import re
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.uid import UID

from .. import __version__, pixels
from ..intake import Instance as Source
from ..intake.header import DEFER_BYTES
from ..pixels.review import NO_PIXELS, TEXT_FOUND, UNCHECKED_SYNTAX, UNDECODABLE
from .dates import collision_free_offset
from .engine import Donor, add_method_codes, already_deidentified, deidentify
from .errors import DeidError, LeakError
from .gate import Gate
from .identifiers import Identifiers
from .profile import APPLIED_OPTIONS, BASIC_PROFILE, NOT_APPLIED, load_profile
from .risk import PIXEL_KEYWORDS, PIXEL_TAGS, exclusion_reason, fixed_reasons, report_modality
from .verify import encode, find_leaks, read_pixel_data

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Output:
    """One published file: where it is in the dataset and what the catalog needs."""

    relpath: str
    size: int
    # the attributes of the de-identified header that ``keep`` named, as plain values
    # (``plain``): held for every file of a study, so no pydicom element
    attributes: dict[str, str | int | float | None]
    transfer_syntax: str
    frames: int = 0  # frames decoded and screened
    detector: int = 0  # frames the pre-filter sent to the text detector
    rewritten: bool = False  # pixel data published in a new form (see pixels.Replacement)
    defaced: str | None = None  # how its face was removed and checked (a fixed text)


@dataclass(frozen=True)
class Excluded:
    """A planned instance that the pixel stage did not publish."""

    relpath: str
    modality: str  # a defined term of the standard, or "other"
    reason: str  # a fixed text


POLICY = (
    "Attributes neither in Table E.1-1 nor on the archive's allow-list of technical "
    "attributes are removed at every depth (reject by default).",
    "Private attributes, overlays, curves and embedded documents are removed.",
    "UIDs other than well-known DICOM UIDs are replaced by keyed (HMAC-SHA256) UIDs under 2.25.",
    "Dates move back by a per-donation number of days; times of day are kept.",
    "Age comes from the donation record; 90 and over is published as 090Y.",
    "Instances whose pixels may show identifiers are not published.",
    "Every frame of every published instance is decoded as it is published; "
    "pixel data that cannot be decoded is not published.",
    "Every frame is screened for burned-in text (a stroke filter, then a text "
    "detection model on the regions it marks); an instance with text in any "
    "frame is not published.",
    "Comments, application data and bytes after the image are removed from "
    "compressed frames without re-encoding them; native pixel data longer than "
    "its rows, columns and frames, or using bits above Bits Stored, is not "
    "published.",
    "CT and MR volumes that hold a head are defaced: the face is set to air, the brain "
    "is left unchanged, and the result is checked (the face region holds only air, and "
    "face detectors find no face in renders of the skin) before it is published; a "
    "volume that fails a check is not published.",
    "CT and MR series that cannot be checked for a face (not one volume), localizers, "
    "and sagittal or coronal 2D images of the head are not published.",
    "Every file is searched for every identifying value of its original header "
    "before it is saved; one hit refuses the whole donation.",
)


@cache
def fixed_texts() -> frozenset[str]:
    """The texts of the report that the engine writes itself, whatever the study: the
    gate does not search them (a donor called May is not refused because the policy
    says that pixels "may show identifiers", nor one called Key for the name of a Key
    Object Selection Document not published)."""
    profile = load_profile()
    return frozenset(
        {
            f"archive-builder {__version__}",
            f"DICOM PS3.15 Annex E, {BASIC_PROFILE[1]}",
            f"{profile.source}, edition {profile.edition}",
            profile.newer,
            *(meaning for _, meaning in APPLIED_OPTIONS.values()),
            *NOT_APPLIED,
            *POLICY,
            *fixed_reasons(),
            NO_PIXELS,
            TEXT_FOUND,
            UNCHECKED_SYNTAX,
            UNDECODABLE,
            *pixels.DEFACING_NOTES,
            *pixels.DEFACING_REASONS,
        }
    )


@dataclass
class StudyResult:
    outputs: list[Output] = field(default_factory=list)
    excluded: list[dict[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    tally: Counter[tuple[str, str]] = field(default_factory=Counter)
    identifiers: Identifiers = field(default_factory=Identifiers)

    def gate(self, also: Iterable[str] = ()) -> Gate:
        """The gate that writes this study's text files (see ``deid.gate``); ``also`` are
        further texts the caller writes whatever the study."""
        return Gate(self.identifiers, fixed=fixed_texts() | frozenset(also))

    def defaced(self) -> list[dict[str, Any]]:
        """The defaced series: folder, instances, and how the face was removed and checked."""
        series: dict[str, dict[str, Any]] = {}
        for output in self.outputs:
            if output.defaced:
                folder = output.relpath.split("/", 1)[0]
                entry = series.setdefault(
                    folder, {"series": folder, "instances": 0, "defacing": output.defaced}
                )
                entry["instances"] += 1
        return [series[folder] for folder in sorted(series)]

    def report(self) -> dict[str, Any]:
        """The de-identification report, published with the dataset: no original value in it."""
        profile = load_profile()
        attributes: dict[str, dict[str, int]] = {}
        for (action, name), count in sorted(self.tally.items()):
            attributes.setdefault(action, {})[name] = count
        return {
            "tool": f"archive-builder {__version__}",
            "profile": {
                "name": f"DICOM PS3.15 Annex E, {BASIC_PROFILE[1]}",
                "code": BASIC_PROFILE[0],
                "table": f"{profile.source}, edition {profile.edition}",
                "newer_edition": profile.newer,
            },
            "options_applied": [
                {"code": code, "meaning": meaning} for code, meaning in APPLIED_OPTIONS.values()
            ],
            "options_not_applied": list(NOT_APPLIED),
            "policy": list(POLICY),
            "instances": {
                "received": len(self.outputs) + len(self.excluded),
                "published": len(self.outputs),
                "excluded": self.excluded,
            },
            "pixels": {
                "frames_decoded": sum(o.frames for o in self.outputs),
                "frames_sent_to_text_detector": sum(o.detector for o in self.outputs),
                "instances_with_pixel_data_rewritten": sum(o.rewritten for o in self.outputs),
                "series_defaced": self.defaced(),
            },
            "files_skipped": dict(Counter(self.skipped)),
            "attributes": attributes,
            "verification": {
                "files_checked": len(self.outputs),
                "identifying_values_searched": len(self.identifiers),
                "identifying_values_found": 0,
            },
        }


def _order_key(header: Dataset, uid_field: str, number_field: str) -> tuple[int, str]:
    try:
        number = int(header.get(number_field) or 0)
    except (TypeError, ValueError):
        number = 0
    return number, str(header.get(uid_field, ""))


def plan(sources: Sequence[Source]) -> tuple[list[tuple[Source, str]], list[dict[str, str]]]:
    """Decide which sources are published and under which generated path.

    Paths come from series and instance order (``series-001/instance-0001.dcm``),
    never from the input's own file names, which may carry a name or an ID.
    """
    included: list[Source] = []
    excluded: list[tuple[Source, str]] = []
    for source in sources:
        reason = exclusion_reason(source.header)
        if reason:
            excluded.append((source, reason))
        else:
            included.append(source)
    series: dict[str, list[Source]] = {}
    for source in included:
        series.setdefault(str(source.header.get("SeriesInstanceUID", "")), []).append(source)
    ordered = sorted(
        series.values(), key=lambda s: _order_key(s[0].header, "SeriesInstanceUID", "SeriesNumber")
    )
    layout: list[tuple[Source, str]] = []
    for s_index, members in enumerate(ordered, start=1):
        members.sort(key=lambda s: _order_key(s.header, "SOPInstanceUID", "InstanceNumber"))
        for i_index, source in enumerate(members, start=1):
            layout.append((source, f"series-{s_index:03d}/instance-{i_index:04d}.dcm"))
    excluded_report = [
        {"modality": report_modality(s.header), "reason": reason} for s, reason in excluded
    ]
    return layout, excluded_report


def defer_pixel_data(header: Dataset) -> Dataset:
    """``header`` with its pixel data deferred: known to exist, read again when needed.

    Compressed pixel data is read along with a header; dropping it keeps the
    headers of a whole folder small in memory and cheap to send back from a
    worker process.
    """
    for tag in PIXEL_TAGS & header.keys():
        raw: DataElement | RawDataElement = header.get_item(tag, keep_deferred=True)
        if isinstance(raw, RawDataElement) and raw.value is not None:
            header[tag] = raw._replace(value=None)
    return header


def _read_for_deid(path: Path, header: Dataset | None) -> Dataset:
    """The file's dataset: ``header`` (as intake read it), or read now, with pixel data of
    undefined length (encapsulated frames) read in and pixel data of defined length left
    unread: the writer copies it from the file."""
    deflated = header is not None and UID(header.file_meta.TransferSyntaxUID).is_deflated
    if header is None:
        header = dcmread(path, defer_size=DEFER_BYTES)
        if UID(header.file_meta.get("TransferSyntaxUID", "")).is_deflated:
            return dcmread(path)  # deferred offsets point into the inflated stream: read it all
    elif deflated:
        return header  # read from the whole file's bytes (``intake.HeaderBytes``)
    read_pixel_data(header, path, undefined_only=True)
    return header


def process_one(
    path: Path,
    target: Path,
    donor: Donor,
    identifiers: Identifiers,
    tally: Counter[tuple[str, str]],
    header: Dataset | None = None,
    series: pixels.Decision = pixels.KEEP,
    keep: Collection[str] = (),
) -> Output | Excluded:
    """Review the pixel data of one file, de-identify it, verify it, and write it to
    ``target``, in a staging folder that the caller moves into place once every file of
    the study is written, or removes.

    ``header`` is the file's header as intake read it (``Instance.dataset``):
    the header whose identifying values were collected, so that nothing is
    published that was not searched for them; only its pixel data is read from
    the file (None reads the whole file now, for callers that collected from
    the file just before). ``series`` is
    what the pixel stage decided for the file's series as a whole. The pixel
    data written is exactly the data the pixel stage decoded and screened.
    ``keep`` names the top-level attributes of the de-identified header that the
    Output keeps (the caller's catalog needs), as plain values (``plain``).

    Returns Excluded (nothing written) when the pixel stage does not publish the
    file. Raises DeidError when the file cannot be read or de-identified,
    LeakError when the verifier finds an identifying value; nothing is written
    then. Messages name the kind of problem, never a value of the file.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            original = _read_for_deid(path, header)
        except Exception as exc:
            raise DeidError(f"an instance cannot be read in full ({type(exc).__name__})") from None
        try:
            decision = pixels.review_instance(original, path, series)
        except OSError:
            raise DeidError("the file changed or went away while it was de-identified") from None
        if decision.excluded:
            if header is not None:
                defer_pixel_data(header)
            return Excluded(target.name, report_modality(original), decision.excluded)
        try:
            clean = deidentify(original, donor, identifiers, tally)
            _publish_pixels(clean, decision)
            encoded = encode(clean, path)
        except Exception as exc:
            log.debug("de-identification failed", exc_info=True)
            raise DeidError(
                f"an instance cannot be de-identified ({type(exc).__name__}); it may be damaged"
            ) from None
        finally:
            if header is not None:
                defer_pixel_data(header)
    problems = find_leaks(clean, identifiers, encoded.header)
    if problems:
        raise LeakError(problems)
    if not target.parent.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        size = encoded.save(target)
    except BaseException:
        target.unlink(missing_ok=True)  # never a half-written file, even in a staging folder
        raise
    syntax = str(clean.file_meta.TransferSyntaxUID)
    attributes = {k: plain(clean.get(k)) for k in keep if k in clean and k not in PIXEL_KEYWORDS}
    replacement = decision.replacement
    defaced = (
        replacement.note if replacement and replacement.note in pixels.DEFACING_NOTES else None
    )
    return Output(
        target.name,
        size,
        attributes,
        syntax,
        decision.frames,
        decision.detector,
        replacement is not None,
        defaced,
    )


def _joined(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, bytes):
        return None
    try:
        items = [_joined(v) for v in value]
    except TypeError:
        return str(value)
    return "\\".join(str(v) for v in items)


def plain(value: Any) -> str | int | float | None:
    """A value of a de-identified header as ``instances.json`` holds it: None for an
    empty or binary value, a multi-value joined with backslashes (each as the header
    writes it), else a plain str, int or float (not pydicom's subclasses, which carry
    more: a study's outputs are all held until its last file is written)."""
    value = _joined(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return None


def _publish_pixels(clean: FileDataset, decision: pixels.Decision) -> None:
    """Put the pixel data the pixel stage screened into ``clean`` (and whatever its
    replacement says about the file)."""
    replacement = decision.replacement
    if replacement is not None:
        for tag in replacement.removed:
            if tag in clean:
                del clean[tag]
        for element in replacement.elements:
            clean[element.tag] = element
        if replacement.transfer_syntax:
            clean.file_meta.TransferSyntaxUID = UID(replacement.transfer_syntax)
        if replacement.method_codes:
            add_method_codes(clean, replacement.method_codes)
    if decision.pixels is not None:
        clean[decision.pixels.tag] = decision.pixels


def collect_identifiers(
    sources: Sequence[Source], donor: Donor, secrets: Sequence[str] = ()
) -> Identifiers:
    """Every identifying value of the study's original headers, and the given secrets."""
    identifiers = Identifiers(own={donor.public_id})
    for source in sources:
        try:
            header = source.dataset()  # parsed again from its bytes: none is kept parsed
            own = donor.public_id if already_deidentified(header, donor) else None
            identifiers.add_dataset(header, own_output_for=own)
        except DeidError:
            raise
        except Exception as exc:  # a value pydicom cannot read: nothing is known of it
            raise DeidError(
                f"the identifying values of an instance cannot be collected "
                f"({type(exc).__name__}); the study is refused"
            ) from None
    for secret in secrets:
        identifiers.add_value(secret)
    return identifiers


def review_headers(sources: Sequence[Source]) -> list[Dataset | None]:
    """The headers a series is reviewed by in the pixel stage (``pixels.review_series``):
    the whole headers where they are held parsed; else the first one's whole header,
    parsed from its bytes, and None for the others: the pixel stage tells a CT or MR
    series by it and then reads the series whole, pixels included (a parsed header of
    every slice would be read twice). Never a summary: a series of one instance is
    judged by the headers given (a sagittal head image by its orientation and
    description, which no summary holds)."""
    if all(source.header_bytes is None for source in sources):
        return [source.header for source in sources]
    return [sources[0].dataset(), *([None] * (len(sources) - 1))]


def series_of(layout: Sequence[tuple[Source, str]]) -> list[list[tuple[Source, str]]]:
    """The planned instances grouped by their series folder, in order."""
    groups: dict[str, list[tuple[Source, str]]] = {}
    for source, relpath in layout:
        groups.setdefault(relpath.split("/", 1)[0], []).append((source, relpath))
    return list(groups.values())


def _numbers(relpath: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", relpath))


def compacted(relpaths: Sequence[str]) -> dict[str, str]:
    """New paths for the published files once some planned ones were not published:
    series and instances numbered again from 1, in the same order, without gaps."""
    series: dict[str, str] = {}
    counts: dict[str, int] = {}
    moves: dict[str, str] = {}
    for relpath in sorted(relpaths, key=_numbers):
        folder = relpath.split("/", 1)[0]
        new_folder = series.setdefault(folder, f"series-{len(series) + 1:03d}")
        counts[new_folder] = counts.get(new_folder, 0) + 1
        moves[relpath] = f"{new_folder}/instance-{counts[new_folder]:04d}.dcm"
    return moves


def move_compacted(root: Path, outputs: list[Output]) -> list[Output]:
    """Rename the published files under ``root`` to their compacted paths (see
    ``compacted``); new numbers are never above old ones, so renaming in order never
    overwrites a file not yet renamed."""
    moves = compacted([o.relpath for o in outputs])
    renamed = []
    for output in sorted(outputs, key=lambda o: _numbers(o.relpath)):
        new = moves[output.relpath]
        if new != output.relpath:
            (root / new).parent.mkdir(parents=True, exist_ok=True)
            (root / output.relpath).rename(root / new)
        renamed.append(replace(output, relpath=new))
    for folder in sorted({o.relpath.split("/", 1)[0] for o in outputs}):
        if (root / folder).is_dir() and not any((root / folder).iterdir()):
            (root / folder).rmdir()
    return renamed


def deidentify_study(
    sources: Sequence[Source],
    donor: Donor,
    out_dir: Path,
    *,
    secrets: Sequence[str] = (),
    progress: Progress | None = None,
    keep: Collection[str] = (),
) -> StudyResult:
    """De-identify ``sources`` into ``out_dir``; raise LeakError if any identifier survives.

    ``secrets`` are further values that must appear nowhere (the portal's donation id).
    Each series passes the pixel stage (``archive_builder.pixels``) first; what it does
    not publish is reported with its reason. ``keep``: the attributes of each written
    file's de-identified header that its Output keeps (see ``process_one``).
    """
    identifiers = collect_identifiers(sources, donor, secrets)
    donor = replace(
        donor, date_offset_days=collision_free_offset(donor.date_offset_days, identifiers.dates)
    )
    layout, excluded = plan(sources)
    result = StudyResult(excluded=excluded, identifiers=identifiers)
    done = 0
    for members in series_of(layout):
        headers = review_headers([source for source, _ in members])
        decisions = pixels.review_series(headers, [source.path for source, _ in members])
        for (source, relpath), series in zip(members, decisions, strict=True):
            target = out_dir / relpath
            header = source.dataset()
            output = process_one(
                source.path, target, donor, identifiers, result.tally, header, series, keep
            )
            if isinstance(output, Excluded):
                result.excluded.append({"modality": output.modality, "reason": output.reason})
            else:
                result.outputs.append(replace(output, relpath=relpath))
            done += 1
            if progress:
                progress(done, len(layout))
    if not result.outputs:
        raise DeidError(
            "no instance can be published: "
            + "; ".join(sorted({e["reason"] for e in result.excluded}))
            if result.excluded
            else "no instance"
        )
    result.outputs = move_compacted(out_dir, result.outputs)
    return result
