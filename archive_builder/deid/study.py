"""De-identify the instances of one study, verify every file, and report what was done."""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID

from .. import __version__
from ..intake import Instance as Source
from ..intake.package import DEFER_BYTES
from .dates import collision_free_offset
from .engine import Donor, already_deidentified, deidentify
from .errors import DeidError, LeakError
from .identifiers import Identifiers
from .profile import APPLIED_OPTIONS, BASIC_PROFILE, NOT_APPLIED, load_profile
from .risk import PIXEL_KEYWORDS, PIXEL_TAGS, exclusion_reason
from .verify import encode, find_leaks, read_pixel_data

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Output:
    """One published file: where it is in the dataset and what the catalog needs."""

    relpath: str
    size: int
    header: Dataset  # the de-identified header, pixel data dropped
    transfer_syntax: str


@dataclass
class StudyResult:
    outputs: list[Output] = field(default_factory=list)
    excluded: list[dict[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    tally: Counter[tuple[str, str]] = field(default_factory=Counter)
    identifiers: Identifiers = field(default_factory=Identifiers)

    def leaks_in(self, text: str) -> bool:
        """Whether ``text`` (a free-text field of the donation record) repeats an identifier."""
        return bool(self.identifiers.find(text))

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
            "policy": [
                "Attributes neither in Table E.1-1 nor on the archive's allow-list of technical "
                "attributes are removed at every depth (reject by default).",
                "Private attributes, overlays, curves and embedded documents are removed.",
                "UIDs other than well-known DICOM UIDs are replaced by keyed (HMAC-SHA256) "
                "UIDs under 2.25.",
                "Dates move back by a per-donation number of days; times of day are kept.",
                "Age comes from the donation record; 90 and over is published as 090Y.",
                "Instances whose pixels may show identifiers are not published.",
                "Every file is searched for every identifying value of its original header "
                "before it is saved; one hit refuses the whole donation.",
            ],
            "instances": {
                "received": len(self.outputs) + len(self.excluded),
                "published": len(self.outputs),
                "excluded": self.excluded,
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
        {"modality": str(s.header.get("Modality", "")), "reason": reason} for s, reason in excluded
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
    """The file's dataset: ``header`` (read before), or read now, with pixel data of
    undefined length (encapsulated frames) read in and pixel data of defined length left
    unread: the writer copies it from the file."""
    if header is None:
        header = dcmread(path, defer_size=DEFER_BYTES)
    if UID(header.file_meta.get("TransferSyntaxUID", "")).is_deflated:
        return dcmread(path)  # deferred offsets point into the inflated stream: read it all
    read_pixel_data(header, path, undefined_only=True)
    return header


def process_one(
    path: Path,
    target: Path,
    donor: Donor,
    identifiers: Identifiers,
    tally: Counter[tuple[str, str]],
    header: Dataset | None = None,
) -> Output:
    """De-identify one file, verify it, and write it to ``target``, in a staging folder
    that the caller moves into place once every file of the study is written, or
    removes.

    ``header`` is the file's header as read before (see ``read_header``), when
    there is one in this process: the file is not parsed again. Pixel data is
    copied from the file as it is saved (encapsulated frames are read in, and
    dropped from ``header`` again afterwards).

    Raises DeidError when the file cannot be read or de-identified, LeakError
    when the verifier finds an identifying value; nothing is written then.
    Messages name the kind of problem, never a value of the file.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            original = _read_for_deid(path, header)
        except Exception as exc:
            raise DeidError(f"an instance cannot be read in full ({type(exc).__name__})") from None
        try:
            clean = deidentify(original, donor, identifiers, tally)
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
    for keyword in PIXEL_KEYWORDS:
        if keyword in clean:
            del clean[keyword]
    return Output(target.name, size, clean, str(clean.file_meta.TransferSyntaxUID))


def collect_identifiers(
    sources: Sequence[Source], donor: Donor, secrets: Sequence[str] = ()
) -> Identifiers:
    """Every identifying value of the study's original headers, and the given secrets."""
    identifiers = Identifiers()
    for source in sources:
        own = donor.public_id if already_deidentified(source.header, donor) else None
        identifiers.add_dataset(source.header, own_output_for=own)
    for secret in secrets:
        identifiers.add_value(secret)
    return identifiers


def deidentify_study(
    sources: Sequence[Source],
    donor: Donor,
    out_dir: Path,
    *,
    secrets: Sequence[str] = (),
    progress: Progress | None = None,
) -> StudyResult:
    """De-identify ``sources`` into ``out_dir``; raise LeakError if any identifier survives.

    ``secrets`` are further values that must appear nowhere (the portal's donation id).
    """
    identifiers = collect_identifiers(sources, donor, secrets)
    donor = replace(
        donor, date_offset_days=collision_free_offset(donor.date_offset_days, identifiers.dates)
    )
    layout, excluded = plan(sources)
    result = StudyResult(excluded=excluded, identifiers=identifiers)
    for done, (source, relpath) in enumerate(layout, start=1):
        target = out_dir / relpath
        output = process_one(source.path, target, donor, identifiers, result.tally, source.header)
        result.outputs.append(Output(relpath, output.size, output.header, output.transfer_syntax))
        if progress:
            progress(done, len(layout))
    if not result.outputs:
        raise DeidError(
            "no instance can be published: " + "; ".join(sorted({e["reason"] for e in excluded}))
            if excluded
            else "no instance"
        )
    return result
