"""DICOM PS3.15 Table E.1-1: every attribute of the standard's table gets its action."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import sample, shared_file
from pydicom import dcmread
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from archive_builder import keys
from archive_builder.deid import Donor, Identifiers, deidentify, find_leaks
from archive_builder.deid.allowlist import SAFE_KEYWORDS
from archive_builder.deid.profile import (
    DESCRIPTORS_CLEANED,
    DEVICE_UIDS,
    NOT_PATIENT_DATES,
    load_profile,
)
from archive_builder.deid.uids import archive_wide
from archive_builder.deid.verify import header_bytes

ROOT = Path(__file__).resolve().parents[1]
TABLE = "standards/dicom/confidentiality_profile_attributes-2024b.json"
KEY = bytes(range(32))
DONOR = Donor(key=KEY, public_id="don-tablecheck01", date_offset_days=-1234, patient_age="045Y")
PLANTED_WORD = "Quorvandel"
# Attributes the engine writes itself on every output, whatever the table says.
WRITTEN = {
    "PatientName",
    "PatientID",
    "PatientAge",
    "PatientSex",
    "PatientIdentityRemoved",
    "DeidentificationMethod",
    "DeidentificationMethodCodeSequence",
    "LongitudinalTemporalInformationModified",
    "SOPClassUID",
}


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location(
        "make_deid_profile", ROOT / "tools" / "make_deid_profile.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_rule_table_is_what_the_script_makes_from_the_standard() -> None:
    source = shared_file(TABLE)
    made = _tool().convert(json.loads(source.read_text(encoding="utf-8")), "2024b")
    committed = json.loads(
        (ROOT / "archive_builder" / "deid" / "profile_e11.json").read_text(encoding="utf-8")
    )
    assert made["rules"] == [r for r in committed["rules"] if "edition" not in r]
    assert (committed["edition"], committed["generated_by"]) == (
        "2024b",
        "tools/make_deid_profile.py",
    )


def test_every_row_of_the_standard_table_has_a_rule_with_its_basic_action() -> None:
    rows = json.loads(shared_file(TABLE).read_text(encoding="utf-8"))
    profile = load_profile()
    missing = []
    for row in rows:
        tag = row["tag"].strip("()").replace(",", "").upper()
        if not all(c in "0123456789ABCDEF" for c in tag):
            continue  # ranges (50xx,xxxx), private (gggg,eeee): checked below
        rule = profile.rule_for(int(tag, 16))
        if rule is None or rule.basic != row["basicProfile"]:
            missing.append(row["name"])
    assert missing == []
    committed = json.loads((ROOT / "archive_builder/deid/profile_e11.json").read_text())
    assert len(rows) == len([r for r in committed["rules"] if "edition" not in r])


def test_attributes_of_the_newer_edition_carry_their_source_and_a_basic_action() -> None:
    committed = json.loads((ROOT / "archive_builder/deid/profile_e11.json").read_text())
    newer = [r for r in committed["rules"] if "edition" in r]
    assert len(newer) == committed["newer_edition"]["rules_added"] > 0
    for rule in newer:
        assert rule["edition"] == "2026c" and "dicom-anonymizer" in rule["source"]
        assert rule["basic"] in {"X", "Z", "D", "U", "X/Z", "X/D", "Z/D", "X/Z/D", "X/Z/U*"}
        assert "options" not in rule  # no option column: the Basic action applies
    # e.g. Name to Use (0010,0012), new in 2026c, is removed
    rule = load_profile().rule_for(0x00100012)
    assert rule is not None and rule.action == "X"


def test_private_curve_and_overlay_groups_are_removed_by_rule() -> None:
    profile = load_profile()
    for tag in (0x00091010, 0x7FE10010, 0x50000010, 0x50123000, 0x60000010, 0x60223000):
        rule = profile.rule_for(tag)
        assert rule is not None and rule.action == "X", hex(tag)


def _value(vr: str, index: int) -> Any:
    """A plausible value of ``vr`` that carries something identifying."""
    text = f"{PLANTED_WORD} NOTE"
    return {
        "DA": "20240115",
        "TM": "101530",
        "DT": "20240115101530",
        "PN": f"{PLANTED_WORD}^Anna",
        "UI": f"1.2.826.0.1.3680043.10.4242.{index}",
        "IS": "7",
        "DS": "1.5",
        "AS": "047Y",
        "CS": PLANTED_WORD.upper(),
        "AE": PLANTED_WORD.upper(),
        "SH": text,
        "LO": text,
        "LT": text,
        "ST": text,
        "UT": text,
        "UC": text,
        "UR": f"http://{PLANTED_WORD.lower()}.example.org/",
        "US": 7,
        "SS": 7,
        "UL": 7,
        "SL": 7,
        "SV": 7,
        "UV": 7,
        "FL": 1.5,
        "FD": 1.5,
        "AT": 0x00100010,
        "OB": b"\x01\x02",
        "OW": b"\x01\x02",
        "OF": b"\x00\x00\xc0\x3f",
        "OD": b"\x00" * 6 + b"\xf8\x3f",
        "OL": b"\x07\x00\x00\x00",
        "OV": b"\x07" + b"\x00" * 7,
        "UN": b"\x01\x02",
    }[vr]


def _planted_rules() -> list[tuple[str, str, Any]]:
    """(keyword, VR, value) for every single-tag attribute of the table that can live in a file."""
    planted = []
    for index, rule in enumerate(load_profile().by_tag.values()):
        tag = int(rule.tag, 16)
        if tag >> 16 in (0x0000, 0x0002) or not rule.keyword:
            continue  # command and file meta groups: not part of a stored dataset
        vr = dictionary_VR(tag).split(" or ")[0]
        if vr == "SQ":
            item = Dataset()
            item.CodeValue = "T-A0100"
            item.CodeMeaning = PLANTED_WORD
            item.ReferencedSOPInstanceUID = f"1.2.826.0.1.3680043.10.4242.9{index}"
            value: Any = Sequence([item])
        elif rule.keyword in DESCRIPTORS_CLEANED:
            value = f"HEAD {PLANTED_WORD} AXIAL"
        else:
            value = _value(vr, index)
        planted.append((rule.keyword, vr, value))
    return planted


def _expected(keyword: str, vr: str) -> str:
    """What the archive's policy says happens to one attribute (restated from the README)."""
    rule = next(r for r in load_profile().by_tag.values() if r.keyword == keyword)
    if keyword in {"PatientSex", "PatientSize", "PatientWeight"}:
        return "kept"
    if keyword in DEVICE_UIDS:  # the same in every donation from a device: removed
        return "removed"
    if keyword in NOT_PATIENT_DATES:  # public or device dates: never shifted
        return {"X": "removed", "Z": "emptied", "D": "dummy", "X/D": "dummy"}[rule.basic]
    if "rtnLongModifDatesOpt" in rule.options and vr in ("DA", "DT"):
        return "shifted"
    if "rtnLongModifDatesOpt" in rule.options and vr == "TM":
        return "kept"
    if "cleanDescOpt" in rule.options and keyword in DESCRIPTORS_CLEANED:
        return "cleaned"
    return {
        "X": "removed",
        "Z": "emptied",
        "X/Z": "emptied",
        "X/Z/D": "emptied",
        "Z/D": "emptied",
        "D": "dummy",
        "X/D": "dummy",
        "U": "replaced",
        "X/Z/U*": "sequence",
    }[rule.basic]


def _shift(text: str) -> str:
    day = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    return (day + timedelta(days=DONOR.date_offset_days)).strftime("%Y%m%d") + text[8:]


@pytest.fixture(scope="module")
def planted_output() -> tuple[Dataset, Dataset, list[tuple[str, str, Any]]]:
    original = dcmread(sample("CT_small.dcm"))
    planted = _planted_rules()
    for keyword, vr, value in planted:
        if keyword not in WRITTEN:
            original.add_new(keyword, vr, value)
    identifiers = Identifiers()
    identifiers.add_dataset(original)
    identifiers.add_name(PLANTED_WORD)
    out = deidentify(original, DONOR, identifiers, Counter())
    assert find_leaks(out, identifiers, header_bytes(out)) == []
    return original, out, planted


def test_every_table_attribute_planted_in_a_real_file_gets_its_action(
    planted_output: tuple[Dataset, Dataset, list[tuple[str, str, Any]]],
) -> None:
    _, out, planted = planted_output
    wrong: list[str] = []
    outcomes: Counter[str] = Counter()
    for keyword, vr, value in planted:
        if keyword in WRITTEN:
            continue
        expected = _expected(keyword, vr)
        outcomes[expected] += 1
        elem = out.get(keyword)
        got = None if elem is None else out[keyword].value
        if expected == "removed":
            ok = keyword not in out
        elif expected == "emptied":
            ok = keyword in out and (got in (None, "", b"") or (vr == "SQ" and len(got) == 0))
        elif expected == "dummy":
            ok = (
                keyword in out
                and got != value
                and (vr == "SQ" or PLANTED_WORD.lower() not in str(got).lower())
            )
        elif expected == "replaced":
            # objects of the donation keyed archive-wide, any other UID for the donor only
            scope = "" if archive_wide(keyword) else DONOR.public_id
            ok = got == keys.uid(KEY, value, scope)
        elif expected == "shifted":
            ok = got == _shift(value)
        elif expected == "kept":
            ok = got == value
        elif expected == "cleaned":
            ok = got == "HEAD AXIAL"
        else:  # a sequence kept, walked with the same rules: the nested UID replaced
            item = got[0] if got else Dataset()
            ok = (
                item.get("ReferencedSOPInstanceUID")
                == keys.uid(KEY, value[0].ReferencedSOPInstanceUID)
                and item.get("CodeMeaning") is None  # it repeats an identifying value
            )
        if not ok:
            wrong.append(f"{keyword} ({vr}): expected {expected}, got {got!r}")
    assert wrong == []
    # every kind of action of the table was exercised
    assert set(outcomes) == {
        "removed",
        "emptied",
        "dummy",
        "replaced",
        "shifted",
        "kept",
        "cleaned",
        "sequence",
    }


def test_the_engine_writes_identity_removed_and_the_method_codes(
    planted_output: tuple[Dataset, Dataset, list[tuple[str, str, Any]]],
) -> None:
    _, out, _ = planted_output
    assert out.PatientIdentityRemoved == "YES"
    assert out.PatientName == out.PatientID == DONOR.public_id
    assert out.PatientAge == "045Y"
    codes = {item.CodeValue for item in out.DeidentificationMethodCodeSequence}
    assert codes == {"113100", "113107", "113108", "113105"}
    assert all(
        item.CodingSchemeDesignator == "DCM" for item in out.DeidentificationMethodCodeSequence
    )
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID


def test_the_allow_list_names_real_attributes_none_of_them_in_the_table() -> None:
    profile = load_profile()
    unknown = sorted(k for k in SAFE_KEYWORDS if tag_for_keyword(k) is None)
    in_table = sorted(k for k in SAFE_KEYWORDS if profile.rule_for(tag_for_keyword(k) or 0))
    assert unknown == []
    assert in_table == []
    # no keyword on the list holds a person's name, a date or a time
    vrs = {k: dictionary_VR(tag_for_keyword(k)) for k in SAFE_KEYWORDS}
    assert sorted(k for k, vr in vrs.items() if vr in ("PN", "DA", "DT", "TM")) == []


def test_the_committed_code_meanings_are_what_the_script_makes_from_pydicom() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_code_meanings", ROOT / "tools" / "make_code_meanings.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = ROOT / "archive_builder" / "deid" / "code_meanings.tsv.gz"
    assert committed.read_bytes() == module.render()
