"""Real DICOM files with identifiers planted where de-identifiers miss them.

Shared by the de-identification tests and ``benchmarks/bench_deid.py``. A
planted file carries one fictitious patient's identifiers in the attributes
that name them (Patient's Name, Patient ID, Accession Number, ...) and copies
of them where de-identifiers leak: free-text descriptions, attributes outside
Table E.1-1, allow-listed technical text, nested sequences (several levels,
sequences the profile does not list), and private blocks.
"""

from __future__ import annotations

import random
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sequence import Sequence

from archive_builder.deid.normalise import forms

PYDICOM_TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def pydicom_data_folder() -> Path | None:
    """The folder of the ``pydicom-data`` package, if it is installed."""
    try:
        import data_store  # the import name of pydicom-data
    except ImportError:
        return None
    folder = Path(data_store.__file__).parent / "data"
    return folder if folder.is_dir() else None


def corpus_files() -> list[Path]:
    """Every file pydicom ships as test data, and every file of pydicom-data."""
    roots = [PYDICOM_TEST_FILES]
    extra = pydicom_data_folder()
    if extra:
        roots.append(extra)
    files: list[Path] = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if (
                path.is_file()
                and path.suffix not in (".py", ".pyc")
                and "__pycache__" not in str(path)
            ):
                files.append(path)
    return files


def readable(path: Path) -> Dataset | None:
    """The dataset, when pydicom reads the file in full without force; else None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = dcmread(path)
            _ = ds.get("PixelData")  # a truncated value fails here
        except (InvalidDicomError, Exception):
            return None
    if "TransferSyntaxUID" not in ds.file_meta or not ds.get("SOPInstanceUID"):
        return None
    return ds


# Names in every script: Latin with every kind of mark, Greek, Cyrillic, Hebrew, Arabic,
# Devanagari, Thai, Han, kana, Hangul.
SCRIPTS = {
    "latin": "ABCDEFGHIJKLMNOPRSTUVWYZÄÖÜÅÆØÉÈÊËÇÑÍÎÏÓÔÕÚÛÝŁŚŹŻĆŃĘĄŠŽČŘĚŮŐŰİŞĞßÞÐ",
    "greek": "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩάέήίόύώ",
    "cyrillic": "АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЫЭЮЯЁЇІЄҐ",
    "hebrew": "אבגדהוזחטיכלמנסעפצקרשת",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "devanagari": "अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह",
    "thai": "กขคงจฉชซญดตถทธนบปผพฟภมยรลวสหอฮ",
    "han": "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林罗高山田太郎小明",
    "kana": "やまだたろうさとうひろしヤマダタロウサトウ",
    "hangul": "김이박최정강조윤장임한오서신권황안송류홍길동",
}
CJK_SCRIPTS = {"han", "kana", "hangul"}


def spellings(word: str) -> list[str]:
    """How a reader may write ``word`` back: as is, in other cases, decomposed, and in
    the folded forms (accents stripped, ä as ae...)."""
    nfd = unicodedata.normalize("NFD", word)
    return [word, word.upper(), word.lower(), word.title(), nfd, *forms(word)]


_CONSONANTS = "BCDFGHJKLMNPQRSTVWXZ"
_VOWELS = "AEIOUY"


def fake_word(rng: random.Random, length: int = 9) -> str:
    """A pronounceable, almost surely unique word: a fictitious surname or place."""
    return "".join(
        rng.choice(_CONSONANTS if i % 2 == 0 else _VOWELS) for i in range(length)
    ).capitalize()


_HAN = (  # common family names, and given-name characters
    "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余"
    "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙"
    "史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)


@dataclass(frozen=True)
class Patient:
    """A fictitious patient's identifiers; every one must vanish from the output."""

    family: str
    given: str
    patient_id: str
    accession: str
    institution: str
    physician: str
    birth_date: str
    uid_root: str  # the study's own UIDs start with it (as a hospital's root would)
    accented: str  # another person's name with an umlaut, written back without it
    han: str  # a name in Han characters (one for the family, two for the given name)
    dicom_root_uid: str  # a UID under the standard's root that the standard never named
    unicode: bool = True  # whether the file can hold the umlaut and the Han name (UTF-8)

    @classmethod
    def make(cls, rng: random.Random, *, unicode: bool = True) -> Patient:
        year = rng.randint(1930, 1990)
        accented = fake_word(rng, 9)
        return cls(
            family=fake_word(rng, 9),
            given=fake_word(rng, 7),
            patient_id=f"PX{rng.randint(10**8, 10**9 - 1)}",
            accession=f"AC{rng.randint(10**7, 10**8 - 1)}",
            institution=fake_word(rng, 8),
            physician=fake_word(rng, 10),
            birth_date=f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
            uid_root=f"1.2.826.0.1.3680043.10.{rng.randint(10**8, 10**9 - 1)}.",
            accented=accented[0] + "Ü" + accented[2:],
            han="".join(rng.choice(_HAN) for _ in range(3)),
            dicom_root_uid=f"1.2.840.10008.99.{rng.randint(10**8, 10**9 - 1)}",
            unicode=unicode,
        )

    @property
    def transliterated(self) -> str:
        return self.accented.replace("Ü", "UE")

    @property
    def stripped(self) -> str:
        return self.accented.replace("Ü", "U")

    @property
    def split_id(self) -> str:
        digits = self.patient_id[2:]
        return "_".join(digits[i : i + 3] for i in range(0, len(digits), 3))

    @property
    def searched(self) -> list[str]:
        """The strings a raw-bytes search looks for (dates in the DICOM spelling): the
        patient's identifiers, and the other spellings planted of them."""
        values = [
            self.family,
            self.given,
            self.patient_id,
            self.accession,
            self.institution,
            self.physician,
            self.birth_date,
            self.uid_root,
            self.split_id,
            self.dicom_root_uid,
        ]
        if self.unicode:
            values += [self.transliterated, self.stripped, self.han[1:]]
        return values


# Attributes outside Table E.1-1 and off the allow-list (string VRs).
OUTSIDE_TABLE_TEXT = ("CodingSchemeName", "MappingResourceName", "ManufacturerRelatedModelGroup")
# Sequences neither in the table nor on the allow-list.
OUTSIDE_TABLE_SQ = ("LanguageCodeSequence", "CodingSchemeIdentificationSequence")


def plant(ds: Dataset, patient: Patient, rng: random.Random | None = None) -> None:
    """Write ``patient`` into ``ds``: where it belongs and where it should not be."""
    rng = rng or random.Random(0)
    p = patient
    # the file becomes an instance of the patient's own study, with its own UIDs
    ds.StudyInstanceUID = p.uid_root + "1"
    ds.SeriesInstanceUID = p.uid_root + "2"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = p.uid_root + "3"
    ds.FrameOfReferenceUID = p.uid_root + "4"
    ds.PatientName = f"{p.family}^{p.given}"
    ds.PatientID = p.patient_id
    ds.PatientBirthDate = p.birth_date
    ds.AccessionNumber = p.accession
    ds.InstitutionName = f"{p.institution} General Hospital"
    ds.ReferringPhysicianName = f"{p.physician}^Anna"
    ds.OtherPatientIDs = [f"{p.patient_id}-B"]
    # free text of the standard's table: descriptions (cleaned) and comments (removed)
    ds.StudyDescription = f"CT HEAD {p.family} {p.patient_id}"
    ds.SeriesDescription = f"AX T1 {p.given} {p.birth_date[:4]}-{p.birth_date[4:6]}"
    ds.ImageComments = f"patient {p.family}, {p.given}; ref {p.physician}"
    # allow-listed technical text that a careless export fills with a name
    ds.ConvolutionKernel = p.family
    # string attributes outside the table and off the allow-list
    text_kw = rng.choice(OUTSIDE_TABLE_TEXT)
    setattr(ds, text_kw, f"{p.institution} {p.family}")
    # the same identifiers in other spellings, in allow-listed technical text: a name
    # with an umlaut written back without it, an ID glued to letters or split by
    # separators, a word of the institution, a Han name's given name
    ds.FilterType = f"MRN{p.patient_id}"
    ds.RescaleType = p.split_id
    ds.ScanOptions = p.institution.upper()
    if p.unicode:
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.PerformingPhysicianName = f"{p.accented}^Otto"
        ds.ReceiveCoilName = p.transliterated
        ds.TransmitCoilName = p.stripped
        ds.OtherPatientNames = f"{p.han[0]}^{p.han[1:]}"
    # nested sequences: one the profile lists (kept, with UIDs replaced), holding one it
    # does not list, three levels deep; and an allow-listed code sequence with a name
    deep = Dataset()
    deep.CodeMeaning = p.family
    deep.PatientID = p.patient_id
    middle = Dataset()
    middle.CodingSchemeName = p.given
    setattr(middle, rng.choice(OUTSIDE_TABLE_SQ), Sequence([deep]))
    reference = Dataset()
    reference.ReferencedSOPClassUID = ds.get("SOPClassUID", "1.2.840.10008.5.1.4.1.1.2")
    reference.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    reference.PatientName = ds.PatientName
    reference.ReferencedImageSequence = Sequence([middle])
    unregistered = Dataset()  # a UID under the standard's root that it never named
    unregistered.ReferencedSOPClassUID = reference.ReferencedSOPClassUID
    unregistered.ReferencedSOPInstanceUID = p.dicom_root_uid
    ds.SourceImageSequence = Sequence([reference, unregistered])
    region = Dataset()
    region.CodeValue = "T-A0100"
    region.CodingSchemeDesignator = "SRT"
    region.CodeMeaning = f"Brain of {p.family}"
    local = Dataset()  # a code of a local scheme: its meaning is free text
    local.CodeValue = "R1"
    local.CodingSchemeDesignator = "99LOCAL"
    local.CodeMeaning = f"{p.han[1:]} head" if p.unicode else f"{p.institution} head"
    ds.AnatomicRegionSequence = Sequence([region, local])
    # a private block, with text and a nested sequence
    block = ds.private_block(0x0029, "PLANTED IDENTIFIERS", create=True)
    block.add_new(0x10, "LO", f"{p.family}^{p.given}")
    inner = Dataset()
    inner.PatientID = p.patient_id
    block.add_new(0x11, "SQ", Sequence([inner]))


def planted_copies(
    files: Iterable[Path], out_dir: Path, seed: int = 0
) -> Iterator[tuple[Path, Path, Patient]]:
    """Write a planted copy of each readable file: (original, planted copy, patient)."""
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(files):
        ds = readable(path)
        if ds is None:
            continue
        charset = ds.get("SpecificCharacterSet") or ""
        patient = Patient.make(rng, unicode=charset in ("", "ISO_IR 192"))
        plant(ds, patient, rng)
        target = out_dir / f"in-{seed:02d}-{index:04d}.dcm"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ds.save_as(target, enforce_file_format=True)
            except Exception:
                target.unlink(missing_ok=True)
                continue
        yield path, target, patient


def raw_hits(data: bytes, needles: Iterable[str]) -> list[str]:
    """The needles found in ``data``, case-insensitive (an independent check)."""
    lowered = data.lower()
    return [n for n in needles if n and n.lower().encode() in lowered]
