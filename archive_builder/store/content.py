"""What a donation dataset holds besides its DICOM files, and reading it back.

donation.json      the published part of the donation record
deid-report.json   what de-identification did (no original value)
instances.json     one entry per published file: path, size, SHA-256, annex key,
                   and the DICOM attributes the catalogs need
README.md          what this dataset is and how to get its files
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .. import text as published_text
from .objects import dataset_id

log = logging.getLogger(__name__)

RECORD = "donation.json"
REPORT = "deid-report.json"
INSTANCES = "instances.json"
README = "README.md"

# DICOM attributes copied into instances.json (and from there into the catalogs),
# by keyword; all are read from the de-identified header.
INSTANCE_KEYWORDS = (
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "SOPClassUID",
    "Modality",
    "SeriesNumber",
    "InstanceNumber",
    "SeriesDescription",
    "StudyDescription",
    "BodyPartExamined",
    "Manufacturer",
    "SliceThickness",
    "PixelSpacing",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "BitsAllocated",
    "PhotometricInterpretation",
    "KVP",
    "MagneticFieldStrength",
    "RepetitionTime",
    "EchoTime",
    "ImageType",
    "StudyDate",
    "SeriesDate",
    "PatientSex",
    "PatientAge",
)


def instance_entry(
    relpath: str, path: Path, attributes: Mapping[str, Any], transfer_syntax: str
) -> dict[str, Any]:
    """The entry of one published file: ``attributes`` are the values of its
    de-identified header that ``INSTANCE_KEYWORDS`` name, as ``deid.plain`` made them."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    sha = digest.hexdigest()
    entry: dict[str, Any] = {
        "path": relpath,
        "size": size,
        "sha256": sha,
        "annex_key": f"SHA256E-s{size}--{sha}.dcm",
        "TransferSyntaxUID": transfer_syntax,
    }
    for keyword in INSTANCE_KEYWORDS:
        entry[keyword] = attributes.get(keyword)
    for keyword in (
        "SeriesNumber",
        "InstanceNumber",
        "Rows",
        "Columns",
        "NumberOfFrames",
        "BitsAllocated",
    ):
        if entry[keyword] is not None:
            try:
                entry[keyword] = int(entry[keyword])
            except (TypeError, ValueError):
                entry[keyword] = None
    for keyword in ("SliceThickness", "KVP", "MagneticFieldStrength", "RepetitionTime", "EchoTime"):
        if entry[keyword] is not None:
            try:
                entry[keyword] = float(entry[keyword])
            except (TypeError, ValueError):
                entry[keyword] = None
    return entry


@dataclass(frozen=True)
class StoredDonation:
    """A donation as its dataset describes it."""

    public_id: str
    path: Path
    record: dict[str, Any]
    report: dict[str, Any]
    instances: list[dict[str, Any]]
    dataset_id: str | None = None  # DataLad's id: where the store keeps the files

    @cached_property
    def series(self) -> list[dict[str, Any]]:
        """One entry per series, in dataset order (computed once: pages, catalogs and search
        each read it, tens of thousands of times in a large archive's build)."""
        by_uid: dict[str, dict[str, Any]] = {}
        for inst in self.instances:
            uid = inst["SeriesInstanceUID"]
            folder = inst["path"].split("/", 1)[0]
            entry = by_uid.setdefault(
                uid,
                {
                    "folder": folder,
                    "SeriesInstanceUID": uid,
                    "StudyInstanceUID": inst["StudyInstanceUID"],
                    "Modality": inst["Modality"],
                    "SeriesNumber": inst["SeriesNumber"],
                    "SeriesDescription": inst["SeriesDescription"],
                    "BodyPartExamined": inst["BodyPartExamined"],
                    "Manufacturer": inst["Manufacturer"],
                    "SliceThickness": inst["SliceThickness"],
                    "Rows": inst["Rows"],
                    "Columns": inst["Columns"],
                    "instances": 0,
                    "bytes": 0,
                },
            )
            entry["instances"] += 1
            entry["bytes"] += inst["size"]
        return sorted(by_uid.values(), key=lambda s: s["folder"])

    @property
    def total_bytes(self) -> int:
        return sum(i["size"] for i in self.instances)

    @property
    def modalities(self) -> list[str]:
        return sorted({i["Modality"] for i in self.instances if i["Modality"]})


def _publishable(value: Any, found: list[str]) -> Any:
    """``value`` with every string cleaned of what no page or descriptor can hold."""
    if isinstance(value, str):
        cleaned = published_text.clean(value)
        if cleaned != value:
            found.append(value)
        return cleaned
    if isinstance(value, dict):
        return {key: _publishable(item, found) for key, item in value.items()}
    if isinstance(value, list):
        return [_publishable(item, found) for item in value]
    return value


def read_donation(path: Path) -> StoredDonation:
    """A donation as stored. Text that intake would refuse today (a record ingested before
    the check existed) is published without the offending characters, with a warning."""

    def load(name: str) -> Any:
        found: list[str] = []
        data = _publishable(json.loads((path / name).read_text(encoding="utf-8")), found)
        if found:
            log.warning(
                "%s/%s holds %d value(s) with control characters or bidirectional overrides; "
                "they are published without those characters",
                path.name,
                name,
                len(found),
            )
        return data

    return StoredDonation(
        path.name, path, load(RECORD), load(REPORT), load(INSTANCES), dataset_id(path)
    )
