"""Synthetic donations (metadata only) for site tests and the benchmark."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

from archive_builder.config import ArchiveConfig
from archive_builder.store.content import StoredDonation

CONFIG = ArchiveConfig(
    name="Test Archive",
    description="Studies **donated** by patients. <script>alert('maintainer')</script>",
    publisher="Test Publisher",
    contact="archive@example.org",
    base_url="https://data.example.org/archive/",
    license="CC-BY-4.0",
)
REGIONS = ("HEAD", "CHEST", "ABDOMEN", "KNEE", "SPINE")
MODALITIES = ("CT", "MR", "CR")
DIAGNOSES = (
    ("ICD-10", "G43.9", "Migraine, unspecified"),
    ("ICD-10", "J18.9", "Pneumonia, unspecified organism"),
    ("ICD-10", "M17.1", "Primary gonarthrosis"),
    ("SNOMED-CT", "399068003", "Malignant tumor of prostate"),
)


def donation(n: int, root: Path = Path("/nonexistent"), **record: Any) -> StoredDonation:
    """Donation number ``n``: varied age, sex, region, modality, diagnosis; no pixel data."""
    public_id = "don-" + hashlib.sha256(str(n).encode()).hexdigest()[:12]
    system, code, display = DIAGNOSES[n % len(DIAGNOSES)]
    data: dict[str, Any] = {
        "public_id": public_id,
        "license": "CC0-1.0" if n % 7 == 0 else "CC-BY-4.0",
        "consent": {"text_version": "v1", "month": f"2026-{n % 12 + 1:02d}"},
        "subject": {"age": "90+" if n % 50 == 0 else str(18 + n % 70), "sex": "FM"[n % 2]},
        "study": {
            "anatomical_region": REGIONS[n % len(REGIONS)],
            "diagnoses": [{"system": system, "code": code, "display": display}],
        },
    }
    data.update(record)
    modality = MODALITIES[n % len(MODALITIES)]
    digests = [hashlib.sha256(f"{n}-{i}".encode()).hexdigest() for i in range(3)]
    instances = [
        {
            "path": f"series-001/instance-{i:04d}.dcm",
            "size": 500_000 + i,
            "sha256": digests[i],
            "annex_key": f"SHA256E-s{500_000 + i}--{digests[i]}.dcm",
            "TransferSyntaxUID": "1.2.840.10008.1.2.1",
            "StudyInstanceUID": f"2.25.{n}",
            "SeriesInstanceUID": f"2.25.{n}.1",
            "Modality": modality,
            "SeriesNumber": 1,
            "InstanceNumber": i + 1,
            "SeriesDescription": "axial" if modality != "CR" else "PA",
            "BodyPartExamined": data["study"]["anatomical_region"],
            "Manufacturer": None,
            "SliceThickness": None,
            "Rows": 512,
            "Columns": 512,
        }
        for i in range(3)
    ]
    report = {
        "profile": {"name": "Basic Application Level Confidentiality Profile", "table": "E.1-1"},
        "options_applied": [
            {"code": "113107", "meaning": "Retain Longitudinal Temporal Information"}
        ],
        "instances": {"received": 3, "published": 3, "excluded": []},
        "verification": {"identifying_values_searched": 12},
    }
    dataset_id = str(uuid.uuid5(uuid.NAMESPACE_URL, public_id))
    return StoredDonation(public_id, root / public_id, data, report, instances, dataset_id)
