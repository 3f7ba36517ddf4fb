"""A third red team's reproducers: identifiers that reached published files on main.

Each test plants a fictitious patient (``planted.py``) in a real CT of pydicom's
test data, plus one value where a hospital file may hold it, runs the real
``deid`` or ``ingest`` command and searches every published byte; where the
verifier (the last gate) should catch the class on its own, a test puts the
value back into a de-identified file and asks it.

- a name glued to a date-time (DT): the date was shifted and the rest kept as
  written, and the verifier searched dates for whole words only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from planted import FAMILY, assert_unpublished, ct, deid
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag

from archive_builder.deid import Donor, deidentify_study
from archive_builder.deid.study import collect_identifiers
from archive_builder.deid.verify import find_leaks, header_bytes
from archive_builder.intake import Instance
from archive_builder.intake.package import read_header

STRANGER = "Vandermolen"  # a name no attribute of the header holds: never collected
DONOR = Donor(
    key=b"k" * 32, public_id="don-redteamthree", date_offset_days=-400, patient_age="060Y"
)


# -- text glued to a date or a time --------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        f"20200115093000{FAMILY}",  # glued to the time
        f"20200115093000+0100{FAMILY}",  # glued to the UTC offset
        f"20200115{FAMILY.upper()}",  # glued to the date
    ],
)
def test_a_name_glued_to_a_date_time_is_not_published(tmp_path: Path, value: str) -> None:
    files = deid(ct(AcquisitionDateTime=value), tmp_path)
    assert_unpublished(files, FAMILY)
    published = dcmread(next(p for p in files if p.suffix == ".dcm"))
    assert not str(published.get("AcquisitionDateTime", "") or "")


def test_a_date_time_with_its_utc_offset_is_still_shifted(tmp_path: Path) -> None:
    files = deid(ct(AcquisitionDateTime="20200115093000.5-0500"), tmp_path)
    published = dcmread(next(p for p in files if p.suffix == ".dcm"))
    value = str(published.AcquisitionDateTime)
    assert value.endswith("093000.5-0500") and not value.startswith("20200115"), value


@pytest.mark.parametrize(
    ("keyword", "vr", "value"),
    [
        ("AcquisitionDateTime", "DT", f"20200115093000{STRANGER}"),
        ("ContentDate", "DA", f"2020011{STRANGER}"),
        ("ContentTime", "TM", f"0930{STRANGER}"),
    ],
)
def test_the_verifier_refuses_a_date_or_time_holding_other_text(
    tmp_path: Path, keyword: str, vr: str, value: str
) -> None:
    """Dates and times are searched for identifying values as whole words only, so a name
    glued to one is not found by searching; their form is checked instead, and finds a
    name that no attribute of the header held."""
    source = tmp_path / "in.dcm"
    ct().save_as(source, enforce_file_format=True)
    header, reason = read_header(source)
    assert header is not None, reason
    instance = Instance(source, header)
    identifiers = collect_identifiers([instance], DONOR)
    result = deidentify_study([instance], DONOR, tmp_path / "out")
    clean = dcmread(tmp_path / "out" / result.outputs[0].relpath)
    assert find_leaks(clean, identifiers, header_bytes(clean)) == []
    data = value.encode()
    clean[Tag(keyword)] = RawDataElement(Tag(keyword), vr, len(data), data, 0, False, True)
    form = {"DT": "date-time", "DA": "date", "TM": "time of day"}[vr]
    assert find_leaks(clean, identifiers, header_bytes(clean)) == [
        f"{keyword}: a {vr} value that is not a {form}"
    ]
