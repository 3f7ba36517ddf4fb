"""The rule table of DICOM PS3.15 Table E.1-1 and the options this archive applies.

The table itself is data (``profile_e11.json``, made by
``tools/make_deid_profile.py`` from the standard's machine-readable table);
this module only decides, for each attribute, which of its columns wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

# CID 7050 "De-identification Method": the codes recorded in every output.
BASIC_PROFILE = ("113100", "Basic Application Confidentiality Profile")
APPLIED_OPTIONS = {
    "rtnLongModifDatesOpt": (
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
    ),
    "rtnPatCharsOpt": ("113108", "Retain Patient Characteristics Option"),
    "cleanDescOpt": ("113105", "Clean Descriptors Option"),
}
NOT_APPLIED = (
    "Retain Device Identity Option",
    "Retain Institution Identity Option",
    "Retain UIDs Option",
    "Retain Safe Private Option",
    "Retain Longitudinal Temporal Information with Full Dates Option",
    "Clean Pixel Data Option",
    "Clean Recognizable Visual Features Option",
    "Clean Graphics Option",
    "Clean Structured Content Option",
)

# Retain Patient Characteristics, narrowed: the standard lets the option keep
# ethnic group, smoking and pregnancy status and more; the archive keeps only
# what researchers need and the donor was told about. Age comes from the
# donation record, not the header.
PATIENT_CHARACTERISTICS_KEPT = frozenset({"PatientSex", "PatientSize", "PatientWeight"})
# Clean Descriptors, narrowed: of the ~125 free-text attributes the option
# covers, only these are cleaned and kept; every other one gets its Basic
# Profile action (when in doubt, remove).
DESCRIPTORS_CLEANED = frozenset(
    {
        "StudyDescription",
        "SeriesDescription",
        "ProtocolName",
        "PerformedProcedureStepDescription",
        "RequestedProcedureDescription",
        "ContrastBolusAgent",
    }
)

# Dates and times that are not events of the patient's care: versions of published
# resources and events in a device's life. Retain Longitudinal Temporal Information
# with Modified Dates would shift them with the patient's dates, and since their true
# values are public or shared by every study of a device, comparing one with its
# known value would give the donation's offset away, and with it every true date.
# They get their Basic Profile action instead (removed, emptied or a dummy), never
# shifted. (Patient events stay shifted: Date of Secondary Capture, Instance
# Creation, Instance Coercion... happen in the care of this study.)
NOT_PATIENT_DATES = frozenset(
    {
        "ContextGroupVersion",  # (0008,0106) version of a context group of PS3.16: public
        "ContextGroupLocalVersion",  # (0008,0107) a local edition of that context group
        "TemplateVersion",  # (0040,DB06) version of a template of PS3.16: public
        "TemplateLocalVersion",  # (0040,DB07) a local edition of that template
        "DateOfLastCalibration",  # (0018,1200) the device's calibration, shared by its studies
        "TimeOfLastCalibration",  # (0018,1201)
        "DateTimeOfLastCalibration",  # (0018,1202)
        "CalibrationDateTime",  # (0018,1203) a dosimeter's or a device's calibration
        "CalibrationDate",  # (0014,407E) NDE equipment calibration
        "CalibrationTime",  # (0014,407C)
        "DateOfLastDetectorCalibration",  # (0018,700C) the detector's calibration
        "TimeOfLastDetectorCalibration",  # (0018,700E)
        "DateOfManufacture",  # (0018,1204) the device's manufacture: on its label
        "DateOfInstallation",  # (0018,1205) the device's installation at the site
        "SourceStrengthReferenceDate",  # (300A,022C) a brachytherapy source's calibration
        "SourceStrengthReferenceTime",  # (300A,022E)
        "ProductExpirationDateTime",  # (0044,000B) a product's (contrast agent lot) expiry
        "EffectiveDateTime",  # (0068,6226) an implant template's version
        "InformationIssueDateTime",  # (0068,6270) an implant template's issue
        "HangingProtocolCreationDateTime",  # (0072,000A) a display protocol's creation
        "ApprovalStatusDateTime",  # (0044,0004) a product's regulatory approval: public
        # (0044,0104) and (0044,0105): an assertion about an implant template (a product)
        # or an instance, and its expiry: set by whoever asserts, not by the patient's care
        "AssertionDateTime",
        "AssertionExpirationDateTime",
        # (0072,0060) group: a hanging protocol's selector values, one rule for every study
        "SelectorDAValue",
        "SelectorDTValue",
        "SelectorTMValue",
        # (0012,0086) and (0012,0087): a clinical trial's ethics approval, one value for
        # every participant and public in the trial's registry. Removed (Basic: X).
        "EthicsCommitteeApprovalEffectivenessStartDate",
        "EthicsCommitteeApprovalEffectivenessEndDate",
    }
)
# UIDs that name a device or the one who created an instance, not an object of this
# study: keyed like other UIDs they would be the same in every donation from that
# device, and link donations. Removed (Type 3 wherever they occur).
DEVICE_UIDS = frozenset({"InstanceCreatorUID", "DeviceUID"})


@dataclass(frozen=True)
class Rule:
    tag: str
    name: str
    basic: str
    keyword: str | None
    options: dict[str, str]

    @property
    def action(self) -> str:
        """The action this archive applies: K, X, Z, D, U, C, or U* (recurse, replacing UIDs)."""
        kw = self.keyword or ""
        if kw in DEVICE_UIDS:
            return "X"
        if kw in NOT_PATIENT_DATES:
            return resolve_code(self.basic)
        if "rtnPatCharsOpt" in self.options:
            if kw in PATIENT_CHARACTERISTICS_KEPT:
                return "K"
            if kw == "PatientAge":
                return "C"
        if "rtnLongModifDatesOpt" in self.options:
            return "C"
        if "cleanDescOpt" in self.options and kw in DESCRIPTORS_CLEANED:
            return "C"
        return resolve_code(self.basic)


def resolve_code(code: str) -> str:
    """Pick one action from a combined code, preferring what keeps the object valid.

    X/Z and X/Z/D keep the attribute empty (valid whether it is Type 2 or 3),
    X/D and Z/D keep a dummy (valid where the attribute is Type 1), X/Z/U*
    keeps the sequence and replaces every UID inside it.
    """
    return {"X/Z": "Z", "X/Z/D": "Z", "Z/D": "Z", "X/D": "D", "X/Z/U*": "U*"}.get(code, code)


@dataclass(frozen=True)
class Profile:
    edition: str
    source: str
    by_tag: dict[int, Rule]
    newer: str  # attributes added from a newer edition, and where from ('' if none)
    private: Rule
    curves: Rule
    overlays: Rule

    def rule_for(self, tag: int) -> Rule | None:
        rule = self.by_tag.get(tag)
        if rule is not None:
            return rule
        group = tag >> 16
        if group & 1:
            return self.private
        if 0x5000 <= group <= 0x50FF and not group & 1:
            return self.curves
        if 0x6000 <= group <= 0x60FF and not group & 1:
            return self.overlays
        return None


@cache
def load_profile() -> Profile:
    text = resources.files(__package__).joinpath("profile_e11.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    by_tag: dict[int, Rule] = {}
    patterns: dict[str, Rule] = {}
    for row in data["rules"]:
        rule = Rule(
            tag=row["tag"],
            name=row["name"],
            basic=row["basic"],
            keyword=row.get("keyword"),
            options=row.get("options", {}),
        )
        if "X" in rule.tag[0:4] or rule.tag == "PRIVATE" or "X" in rule.tag:
            patterns[rule.tag] = rule
        else:
            by_tag[int(rule.tag, 16)] = rule
    # Every overlay/curve element is removed, not just the two the table names.
    overlays = Rule("60XXXXXX", "Overlay (any element)", "X", None, {})
    newer = data.get("newer_edition")
    return Profile(
        edition=data["edition"],
        source=data["source"],
        by_tag=by_tag,
        newer=(
            f"{newer['rules_added']} attributes of edition {newer['edition']} from {newer['input']}"
            if newer
            else ""
        ),
        private=patterns["PRIVATE"],
        curves=patterns["50XXXXXX"],
        overlays=overlays,
    )
