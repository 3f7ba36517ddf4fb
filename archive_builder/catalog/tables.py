"""The catalog tables: every column with its type and description, as data.

The Parquet schemas, the field metadata and the site's column documentation
are all generated from these lists, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

# 2: instances.url (the file in the published store, fetchable without DataLad).
SCHEMA_VERSION = "2"


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(
            [
                pa.field(c.name, c.type, metadata={"description": c.description})
                for c in self.columns
            ]
        )

    @property
    def filename(self) -> str:
        return f"{self.name}.parquet"


DONATIONS = Table(
    "donations",
    "One row per donation: who donated what, under which licence (no identifier).",
    (
        Column(
            "public_id",
            pa.string(),
            "The donation's public identifier; its dataset is datasets/<public_id>.",
        ),
        Column(
            "release_added",
            pa.string(),
            "The release that first included the donation; empty until released.",
        ),
        Column("license", pa.string(), "SPDX identifier of the licence the donor chose."),
        Column("age", pa.int16(), "Age at the study in whole years; 90 means 90 or over."),
        Column("sex", pa.string(), "DICOM Patient's Sex: F, M or O."),
        Column(
            "anatomical_region", pa.string(), "Examined region, a DICOM Body Part Examined term."
        ),
        Column(
            "diagnosis_codes",
            pa.list_(pa.string()),
            "Diagnoses as SYSTEM:CODE (ICD-10, ICD-10-CM, SNOMED-CT).",
        ),
        Column("modalities", pa.list_(pa.string()), "DICOM modalities of the published series."),
        Column("series_count", pa.int32(), "Number of published series."),
        Column("instance_count", pa.int32(), "Number of published DICOM files."),
        Column("total_bytes", pa.int64(), "Size of the published DICOM files in bytes."),
        Column(
            "withdrawn",
            pa.bool_(),
            "True once the donor has withdrawn; the data are no longer available.",
        ),
    ),
)

SERIES = Table(
    "series",
    "One row per published series.",
    (
        Column("public_id", pa.string(), "The donation the series belongs to."),
        Column("folder", pa.string(), "Folder of the series in the donation's dataset."),
        Column(
            "StudyInstanceUID",
            pa.string(),
            "DICOM Study Instance UID (keyed replacement of the original).",
        ),
        Column(
            "SeriesInstanceUID",
            pa.string(),
            "DICOM Series Instance UID (keyed replacement of the original).",
        ),
        Column("Modality", pa.string(), "DICOM Modality (CT, MR, CR, ...)."),
        Column("SeriesNumber", pa.int32(), "DICOM Series Number."),
        Column(
            "SeriesDescription", pa.string(), "DICOM Series Description, after Clean Descriptors."
        ),
        Column(
            "BodyPartExamined", pa.string(), "DICOM Body Part Examined, as recorded by the scanner."
        ),
        Column("Manufacturer", pa.string(), "DICOM Manufacturer of the scanner."),
        Column("SliceThickness", pa.float64(), "DICOM Slice Thickness in mm."),
        Column("Rows", pa.int32(), "DICOM Rows of the first instance."),
        Column("Columns", pa.int32(), "DICOM Columns of the first instance."),
        Column(
            "NumberOfSeriesRelatedInstances",
            pa.int32(),
            "Number of published instances in the series.",
        ),
        Column("total_bytes", pa.int64(), "Size of the series' files in bytes."),
    ),
)

INSTANCES = Table(
    "instances",
    "One row per published DICOM file: pick files by SQL, then `datalad get` exactly those.",
    (
        Column("public_id", pa.string(), "The donation the file belongs to."),
        Column("path", pa.string(), "Path of the file inside the donation's dataset."),
        Column("size", pa.int64(), "File size in bytes."),
        Column("sha256", pa.string(), "SHA-256 of the file, hex."),
        Column("annex_key", pa.string(), "The git-annex key of the file (SHA256E backend)."),
        Column(
            "url",
            pa.string(),
            "HTTPS URL of the file in the archive's DataLad store: a plain file that any web "
            "client can fetch without DataLad (valid while the store holds it).",
        ),
        Column(
            "TransferSyntaxUID",
            pa.string(),
            "DICOM Transfer Syntax UID (pixel data as received, never re-encoded).",
        ),
        Column("StudyInstanceUID", pa.string(), "DICOM Study Instance UID."),
        Column("SeriesInstanceUID", pa.string(), "DICOM Series Instance UID."),
        Column("SOPInstanceUID", pa.string(), "DICOM SOP Instance UID."),
        Column("SOPClassUID", pa.string(), "DICOM SOP Class UID."),
        Column("Modality", pa.string(), "DICOM Modality."),
        Column("SeriesNumber", pa.int32(), "DICOM Series Number."),
        Column("InstanceNumber", pa.int32(), "DICOM Instance Number."),
        Column("BodyPartExamined", pa.string(), "DICOM Body Part Examined."),
        Column("Manufacturer", pa.string(), "DICOM Manufacturer."),
        Column("SliceThickness", pa.float64(), "DICOM Slice Thickness in mm."),
        Column("PixelSpacing", pa.string(), "DICOM Pixel Spacing, row\\column in mm."),
        Column("Rows", pa.int32(), "DICOM Rows."),
        Column("Columns", pa.int32(), "DICOM Columns."),
        Column(
            "NumberOfFrames", pa.int32(), "DICOM Number of Frames (empty for single-frame objects)."
        ),
        Column("BitsAllocated", pa.int32(), "DICOM Bits Allocated."),
        Column("PhotometricInterpretation", pa.string(), "DICOM Photometric Interpretation."),
        Column("ImageType", pa.string(), "DICOM Image Type, values separated by backslashes."),
        Column("KVP", pa.float64(), "DICOM KVP (CT, X-ray)."),
        Column(
            "MagneticFieldStrength", pa.float64(), "DICOM Magnetic Field Strength in tesla (MR)."
        ),
        Column("RepetitionTime", pa.float64(), "DICOM Repetition Time in ms (MR)."),
        Column("EchoTime", pa.float64(), "DICOM Echo Time in ms (MR)."),
        Column(
            "StudyDate", pa.string(), "DICOM Study Date, shifted by the donation's secret offset."
        ),
    ),
)

DONATION_RATE = Table(
    "donation_rate",
    "The pilot's primary outcome: patients who donated among those offered the donation "
    "button, overall and by month, modality, region, age band and sex, with 95% Wilson score "
    "intervals. A row with fewer than 5 donors or non-donors, and the rows withheld with it so "
    "that no withheld count can be worked out from the others, publish only their group.",
    (
        Column(
            "breakdown",
            pa.string(),
            "What the row groups by: overall, month, modality, anatomical_region, age_band, sex.",
        ),
        Column(
            "group",
            pa.string(),
            "The group: all (overall), YYYY-MM, a DICOM Modality, a region, an age band "
            "(0-9 ... 90+) or a sex (F, M, O). Age band and sex count only the offers the "
            "portal reported with them.",
        ),
        Column(
            "numerator",
            pa.int32(),
            "Patients who accepted the offer (donated); empty when suppressed.",
        ),
        Column(
            "denominator",
            pa.int32(),
            "Patients offered the donation button; empty when suppressed.",
        ),
        Column("rate", pa.float64(), "numerator / denominator; empty when suppressed."),
        Column(
            "ci_lower",
            pa.float64(),
            "Lower bound of the 95% Wilson score interval of the rate; empty when suppressed.",
        ),
        Column(
            "ci_upper",
            pa.float64(),
            "Upper bound of the 95% Wilson score interval of the rate; empty when suppressed.",
        ),
        Column(
            "suppressed",
            pa.bool_(),
            "True when the row's counts are withheld to protect privacy (a count below 5, "
            "or withheld so that another cannot be worked out by subtraction).",
        ),
    ),
)

TABLES = (DONATIONS, SERIES, INSTANCES, DONATION_RATE)
