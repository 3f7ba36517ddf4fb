"""The embedded demo: realistic donation packages from DICOM files that pydicom ships.

pydicom's test files and the ``pydicom-data`` package hold real CT, MR and CR
images of several (fictitious) patients, with names, IDs, dates and UIDs in
their headers: exactly what a donation package carries. The demo groups them
into one package per study, writes a donation record for each, and runs the
real pipeline on them.
"""

from __future__ import annotations

import json
import random
import shutil
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pydicom.data
from pydicom import dcmread


@dataclass(frozen=True)
class DemoStudy:
    donation_id: str
    files: tuple[str, ...]  # test-file names, or a folder + anchor file (whole study)
    age_years: int
    sex: str
    region: str
    diagnoses: tuple[tuple[str, str, str], ...]
    license: str = "CC-BY-4.0"
    as_zip: bool = False
    head_volume: str = ""  # CT or MR: a head volume made from the defacing template is added

    @property
    def modality(self) -> str:
        """The modality its id names (``demo-head-ct-0001`` -> CT)."""
        return self.donation_id.split("-")[2].upper()


STUDIES = (
    DemoStudy(
        "demo-head-ct-0001",
        ("693_J2KR.dcm",),
        67,
        "M",
        "HEAD",
        (("ICD-10", "I61.9", "Nontraumatic intracerebral haemorrhage, unspecified"),),
        head_volume="CT",
    ),
    DemoStudy(
        "demo-shoulder-mr-0002",
        ("MR2_J2KR.dcm",),
        54,
        "F",
        "SHOULDER",
        (("ICD-10", "M75.1", "Rotator cuff syndrome"),),
        license="CC0-1.0",
    ),
    DemoStudy(
        "demo-chest-cr-0003",
        ("RG1_J2KI.dcm",),
        38,
        "M",
        "CHEST",
        (("ICD-10", "J18.9", "Pneumonia, unspecified organism"),),
        as_zip=True,
    ),
    DemoStudy(
        "demo-leg-cr-0004",
        ("RG3_J2KI.dcm",),
        15,
        "F",
        "LEG",
        (("SNOMED-CT", "203467005", "Non-ossifying fibroma of bone"),),
    ),
    DemoStudy(
        "demo-brain-mr-0005",
        ("dicomdirtests/98892003/MR700/4467",),
        45,
        "M",
        "BRAIN",
        (("ICD-10", "I67.1", "Cerebral aneurysm, nonruptured"),),
        head_volume="MR",
    ),
    DemoStudy(
        "demo-head-ct-0006",
        ("dicomdirtests/77654033/CT2/17106",),
        93,
        "M",
        "HEAD",
        (("ICD-10", "S06.0", "Concussion"),),
        license="CC0-1.0",
    ),
    DemoStudy("demo-chest-ct-0007", ("CT_small.dcm",), 72, "F", "CHEST", ()),
)


def _testfile(name: str) -> Path:
    path = pydicom.data.get_testdata_file(name, download=False)
    if path is None:
        raise FileNotFoundError(
            f"pydicom test file {name} is not installed (pip install pydicom-data)"
        )
    return Path(path)


def study_files(anchor: Path) -> list[Path]:
    """Every file under the anchor's patient folder that belongs to the anchor's study."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = dcmread(anchor, stop_before_pixels=True).StudyInstanceUID
        files = []
        for path in sorted(anchor.parent.parent.rglob("*")):
            if path.is_file():
                ds = dcmread(path, stop_before_pixels=True, force=True)
                if ds.get("StudyInstanceUID") == study:
                    files.append(path)
    return files


HEAD_VOLUME_MM = 4.0  # small: the demo is built in seconds


def _add_head_volume(study: DemoStudy, anchor: Path, dicom: Path) -> None:
    """A head volume (the defacing template's mean head, as the study's modality) in the
    study of ``anchor``: pydicom's test files hold no real head volume, and the demo
    shows that head volumes are published defaced."""
    from .demo_heads import make_head, write_series

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        header = dcmread(anchor, stop_before_pixels=True)
    head = make_head(study.head_volume, "axial", HEAD_VOLUME_MM)
    for path in write_series(head, dicom / "head", header, seed=study.donation_id):
        path.rename(dicom / f"head-{path.name}")
    (dicom / "head").rmdir()


def make_packages(out_dir: Path, studies: Sequence[DemoStudy] = STUDIES) -> list[Path]:
    """Write one donation package per demo study into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    packages = []
    for study in studies:
        folder = out_dir / study.donation_id
        if folder.exists():
            shutil.rmtree(folder)
        (folder / "dicom").mkdir(parents=True)
        sources: list[Path] = []
        for name in study.files:
            anchor = _testfile(name)
            sources += study_files(anchor) if "/" in name else [anchor]
        for index, source in enumerate(sources):
            # The portal exports files under their original names; so do we.
            shutil.copy2(source, folder / "dicom" / f"{index:03d}_{source.name}")
        if study.head_volume:
            _add_head_volume(study, sources[0], folder / "dicom")
        record = {
            "schema_version": 1,
            "donation_id": study.donation_id,
            "consent": {
                "given_at": "2026-11-02T10:15:00+01:00",
                "text_version": "2026-01",
                "license": study.license,
            },
            "subject": {"age_years": study.age_years, "sex": study.sex},
            "study": {
                "anatomical_region": study.region,
                "diagnoses": [
                    {"system": s, "code": c, "display": d} for s, c, d in study.diagnoses
                ],
            },
        }
        (folder / "donation.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if study.as_zip:
            archive = out_dir / f"{study.donation_id}.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
                for path in sorted(folder.rglob("*")):
                    zf.write(path, path.relative_to(out_dir))
            shutil.rmtree(folder)
            packages.append(archive)
        else:
            packages.append(folder)
    return packages


# The kinds of study the demo portal offered: (modality, region, patients a day at most,
# share who donate, typical age). Every kind of the demo's donations is among them.
OFFERED_KINDS = (
    ("CT", "HEAD", 9, 0.34, 62),
    ("CT", "CHEST", 9, 0.41, 64),
    ("MR", "BRAIN", 6, 0.29, 48),
    ("MR", "SHOULDER", 4, 0.30, 50),
    ("CR", "CHEST", 10, 0.22, 55),
    ("CR", "LEG", 5, 0.25, 35),
)

RELEASE_NOTES = """\
First release of the demo archive: seven studies (CT, MR and CR) donated through
the patient portal, de-identified with the DICOM Basic Application Level
Confidentiality Profile and its options for modified dates, patient
characteristics and clean descriptors.
"""


def _band(age: int) -> str:
    return "90+" if age >= 90 else f"{age // 10 * 10}-{age // 10 * 10 + 9}"


def write_offers(path: Path, last_day: date = date(2026, 11, 2), days: int = 42) -> Path:
    """A portal's offers ledger (version 2 lines) for ``days`` days up to ``last_day``.

    Made up with a fixed seed: each day, for each kind of study, a few patients
    of some age and sex are offered the button and some donate; one line per
    (day, kind, age band, sex) that had any. The demo's own donors are among
    those who accepted on ``last_day``, the day of their consent. The first and
    last months are short, so the published table shows its suppression at work.
    """
    rng = random.Random(20261102)  # noqa: S311 (made-up counts, not a secret)
    counts: dict[tuple[str, str, str, str, str], list[int]] = {}

    def count(day: date, modality: str, region: str, age: int, sex: str, answer: str) -> None:
        key = (day.isoformat(), modality, region, _band(age), sex)
        cell = counts.setdefault(key, [0, 0, 0])
        cell[0] += 1
        cell[1] += answer == "accepted"
        cell[2] += answer == "declined"

    for offset in range(days):
        day = last_day - timedelta(days=days - 1 - offset)
        for modality, region, most, share, typical in OFFERED_KINDS:
            for _ in range(rng.randint(0, most)):
                age = min(max(int(rng.gauss(typical, 18)), 0), 97)
                roll = rng.random()
                answer = "accepted" if roll < share else "declined" if roll < 0.85 else "none"
                sex = "O" if age > 17 and rng.random() < 0.015 else rng.choice("FM")
                count(day, modality, region, age, sex, answer)
    for study in STUDIES:
        count(last_day, study.modality, study.region, study.age_years, study.sex, "accepted")
    lines = [
        json.dumps(
            {
                "schema_version": 2,
                "date": day,
                "modality": modality,
                "anatomical_region": region,
                "age_band": band,
                "sex": sex,
                "offered": offered,
                "accepted": accepted,
                "declined": declined,
            }
        )
        for (day, modality, region, band, sex), (offered, accepted, declined) in sorted(
            counts.items()
        )
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
