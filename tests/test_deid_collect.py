"""Identifiers the collection used to miss (red-team reproducers of issue 12).

Each test plants one fictitious patient's identifiers in a real CT of pydicom's
test data (where they belong: Patient's Name, Birth Date, Patient ID...) and
one more copy of one of them, spelled or hidden in a way the corpus of
``deid_corpus.py`` and ``test_deid_text.py`` does not plant, in a place the
engine keeps. The file goes through the real ``deid`` command (or ``ingest``
and ``build``), and every published byte is searched for the copy.
"""

from __future__ import annotations

import base64
import gzip
import unicodedata
import warnings
from pathlib import Path

import pytest
from conftest import PackageFactory, record, run_cli
from planted import FAMILY, GIVEN, PATIENT_ID, UID_ROOT
from planted import assert_unpublished as _assert_unpublished
from planted import ct as _ct
from planted import deid as _deid
from planted import found as _found
from pydicom import dcmread


def test_a_patient_id_written_without_its_leading_zeros_is_not_published(
    tmp_path: Path,
) -> None:
    files = _deid(_ct(PatientID="000482913", ReconstructionMethod="MRN 482913"), tmp_path)
    _assert_unpublished(files, "482913")


@pytest.mark.parametrize(
    ("name", "latin"),
    [("Иванов^Сергей", "IVANOV"), ("Παπαδόπουλος^Νίκος", "PAPADOPOULOS")],
)
def test_a_name_transliterated_from_its_script_is_not_published(
    tmp_path: Path, name: str, latin: str
) -> None:
    ds = _ct(SpecificCharacterSet="ISO_IR 192", OtherPatientNames=name)
    ds.ReconstructionMethod = latin
    files = _deid(ds, tmp_path)
    _assert_unpublished(files, latin)


def test_the_hospitals_uid_root_is_not_published_in_text(tmp_path: Path) -> None:
    # every UID of the study starts with it; it names the hospital in the UID registries
    files = _deid(_ct(ReconstructionMethod=UID_ROOT), tmp_path)
    _assert_unpublished(files, UID_ROOT)


@pytest.mark.parametrize(
    ("keyword", "value", "word"),
    [
        ("IssuerOfPatientID", "Qwertzfield NHS Trust", "QWERTZFIELD"),
        ("ResponsibleOrganization", "Blarnholm Foundation", "BLARNHOLM"),
    ],
)
def test_words_of_an_organisation_are_not_published(
    tmp_path: Path, keyword: str, value: str, word: str
) -> None:
    files = _deid(_ct(**{keyword: value, "ReconstructionMethod": word}), tmp_path)
    _assert_unpublished(files, word)


@pytest.mark.parametrize(
    ("charset", "spelled"),
    [("ISO_IR 100", "Quib\u00adbleton"), ("ISO_IR 192", "Quib\u200bbleton")],
    ids=["soft-hyphen", "zero-width-space"],
)
def test_an_invisible_character_inside_a_name_does_not_hide_it(
    tmp_path: Path, charset: str, spelled: str
) -> None:
    # both render as "Quibbleton"; fold() keeps format characters (category Cf)
    files = _deid(_ct(SpecificCharacterSet=charset, ReconstructionMethod=spelled), tmp_path)
    for path in files:
        if path.suffix == ".dcm":
            for elem in dcmread(path).iterall():
                if isinstance(elem.value, str):
                    shown = "".join(c for c in elem.value if unicodedata.category(c) != "Cf")
                    assert FAMILY.lower() not in shown.lower(), elem


def test_a_name_kept_only_in_a_private_element_is_not_published_elsewhere(
    tmp_path: Path,
) -> None:
    # an export that blanked Patient's Name but left the vendor's private copy of it
    # (private elements are removed, but never collected, so the copy is not searched)
    ds = _ct(PatientName="ANONYMOUS", ReconstructionMethod=FAMILY.upper())
    block = ds.private_block(0x0029, "VENDOR HEADER", create=True)
    block.add_new(0x10, "PN", f"{FAMILY}^{GIVEN}")
    files = _deid(ds, tmp_path)
    _assert_unpublished(files, FAMILY)


def test_a_name_spelled_with_a_look_alike_letter_is_not_published(tmp_path: Path) -> None:
    # Cyrillic e (U+0435) in a Latin name: shown exactly as the name (Unicode confusables)
    spelled = "Quibbl\u0435ton"
    files = _deid(_ct(SpecificCharacterSet="ISO_IR 192", ReconstructionMethod=spelled), tmp_path)
    for path in files:
        if path.suffix == ".dcm":
            for elem in dcmread(path).iterall():
                if isinstance(elem.value, str):
                    shown = elem.value.replace("\u0435", "e")
                    assert FAMILY.lower() not in shown.lower(), elem


@pytest.mark.parametrize("encoding", ["utf-32-le", "utf-32-be", "base64"])
def test_a_name_in_a_binary_attribute_in_another_encoding_is_not_published(
    tmp_path: Path, encoding: str
) -> None:
    secret = f"{FAMILY}^{GIVEN} {PATIENT_ID}"
    payload = base64.b64encode(secret.encode()) if encoding == "base64" else secret.encode(encoding)
    files = _deid(_ct(ICCProfile=b"\0" * 128 + payload + b"\0" * 4), tmp_path)
    _assert_unpublished(files, payload)


@pytest.mark.parametrize(
    "payload", [b"DOB19610303", b"name=QuibbletonAnna1961;", b"ID:PX55512345X"]
)
def test_an_identifier_glued_to_letters_or_digits_in_a_binary_attribute_is_not_published(
    tmp_path: Path, payload: bytes
) -> None:
    # binary values are searched for whole words only: glued, the same values that
    # are found anywhere in text pass (an ICC profile's description, say)
    files = _deid(_ct(ICCProfile=b"\0" * 128 + b"\0" + payload + b"\0" * 4), tmp_path)
    _assert_unpublished(files, payload)


@pytest.fixture
def published(archive_dir: Path, make_package: PackageFactory, tmp_path: Path) -> Path:
    """An archive offered one clean donation and two whose record's diagnosis label repeats
    an identifier of the header in another spelling: the referring physician's name in
    Latin letters (Cyrillic in the header, beside the birth date with a two-digit year),
    the family name with a soft hyphen. Those two are refused (a record is never edited),
    the clean one is published, and the site is built."""
    ds = _ct(SpecificCharacterSet="ISO_IR 192", ReferringPhysicianName="Иванов^Пётр")
    image = tmp_path / "image.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(image, enforce_file_format=True)
    packages = [make_package()]  # another patient's study, so that the site shows one
    labels = (
        "Migraine since 03/03/61, seen by Dr Ivanov",
        # shown as Quibbleton by every browser
        "Migraine, Quib\u00adbleton family",
    )
    for number, label in enumerate(labels):
        rec = record(donation_id=f"portal-donation-471{number}")
        rec["study"]["diagnoses"][0]["display"] = label
        packages.append(make_package([image], rec=rec))
    result = run_cli("ingest", archive_dir, *packages)
    refused = [line for line in result.output.splitlines() if line.startswith("refused")]
    assert len(refused) == 2, result.output
    assert all("donation.json repeats" in line for line in refused), result.output
    assert "added as" in result.output, result.output
    result = run_cli("build", archive_dir)
    assert result.exit_code == 0, result.output
    return archive_dir


def _published_bytes(root: Path) -> list[tuple[str, bytes]]:
    """Every file under datasets/ and site/ (search-index fragments inflated)."""
    out = []
    for top in ("datasets", "site"):
        for path in (root / top).rglob("*"):
            if path.is_file() and ".git" not in path.parts:
                data = path.read_bytes()
                if data[:2] == b"\x1f\x8b":
                    data = gzip.decompress(data)
                out.append((str(path.relative_to(root)), data))
    return out


@pytest.mark.slow
def test_the_records_label_in_other_spellings_is_not_published(published: Path) -> None:
    files = _published_bytes(published)
    needles = ("03/03/61", "Ivanov", "Quib\u00adbleton", "Quib\\u00adbleton")
    leaks = [(n, name) for n in needles for name, data in files if _found(data, n)]
    assert not leaks


# -- what the wider collection and matching must not catch -----------------------------------


def test_roots_everyone_shares_are_not_collected() -> None:
    from pydicom.uid import generate_uid

    from archive_builder.deid.identifiers import uid_roots

    assert uid_roots([f"{UID_ROOT}.1", f"{UID_ROOT}.2.5", "1.3.6.1.4.1.5962.1.1"]) == {UID_ROOT}
    assert uid_roots([generate_uid(), generate_uid()]) == set()  # pydicom's
    assert uid_roots(["2.25.1234", "2.25.5678"]) == set()  # from UUIDs
    assert uid_roots(["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]) == set()  # the standard's
    assert uid_roots(["1.3.6.1.4.1.5962.1", "1.3.6.1.4.1.9590.100"]) == set()  # IANA's arc


def test_ordinary_words_in_other_scripts_meet_no_new_spelling() -> None:
    from archive_builder.deid import Identifiers

    found = Identifiers()
    for name in ("Иванов^Сергей", "Παπαδόπουλος^Νίκος", f"{FAMILY}^{GIVEN}"):
        found.add_name(name)
    found.add_id("000482913")
    for text in (
        "Компьютерная томография головы",
        "Αξονική τομογραφία εγκεφάλου",
        "SERGEANT",
        "NIKON",
        "Series 48291",  # five digits: too short to stand for the ID without its zeros
        "sRGB IEC61966-2.1",
    ):
        assert found.find(text) == [], text
    for text in (
        "С. ИВАНОВ",
        "Ivanov S.",
        "Sergey",
        "NIKOS",
        "482913",
        f"{FAMILY[:4]}\u200b{FAMILY[4:]}",
    ):
        assert found.find(text), text


def test_an_icc_profile_without_identifiers_is_kept(tmp_path: Path) -> None:
    # binary values are now searched glued and in more readings: a real colour profile
    # (Little CMS's sRGB, through Pillow) still holds none of the patient's values, and
    # is published (its colour data unchanged, its text replaced: test_deid_icc.py)
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    files = _deid(_ct(ICCProfile=profile), tmp_path)
    published = dcmread(next(p for p in files if p.suffix == ".dcm"))
    assert len(published.ICCProfile) > 400


def test_the_committed_look_alikes_are_what_the_script_makes_from_unicodes_data() -> None:
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location(
        "make_look_alikes", root / "tools" / "make_look_alikes.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = root / "archive_builder" / "deid" / "look_alikes.txt"
    assert committed.read_text(encoding="utf-8") == module.render()
