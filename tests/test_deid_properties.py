"""Properties of de-identification, on a real CT file with arbitrary planted identifiers.

Identifiers planted anywhere (any string attribute of the dictionary, in or
outside Table E.1-1, on the allow-list or not; nested sequences several
levels deep, listed by the profile or not; private blocks) never reach a
written file: checked with the verifier and with an independent raw-bytes
search. De-identifying twice equals once. UIDs stay consistent across files.
"""

from __future__ import annotations

import tempfile
import unicodedata
import warnings
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from conftest import names_in_scripts, sample
from deid_corpus import CJK_SCRIPTS, raw_hits, spellings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.datadict import DicomDictionary
from pydicom.dataset import Dataset, FileDataset
from pydicom.sequence import Sequence

from archive_builder import keys
from archive_builder.deid import Donor, Identifiers, deidentify_study, find_leaks
from archive_builder.deid.verify import header_bytes
from archive_builder.intake import Instance
from archive_builder.intake.package import read_header

KEY = bytes(range(1, 33))
DONOR = Donor(key=KEY, public_id="don-propertytest", date_offset_days=-800, patient_age="033Y")
CT = sample("CT_small.dcm").read_bytes()
_LIMITS = {"CS": 16, "AE": 16, "SH": 16, "LO": 64, "PN": 64}
# Attributes whose value changes how the file is decoded, not what it says.
_STRUCTURAL = {"SpecificCharacterSet", "TransferSyntaxUID"}
TEXT_KEYWORDS = sorted(
    entry[4]
    for tag, entry in DicomDictionary.items()
    if entry[0] in ("LO", "SH", "LT", "ST", "UT", "UC", "PN", "CS", "AE")
    and tag >> 16 not in (0x0000, 0x0002)
    and entry[4]
    and entry[4] not in _STRUCTURAL
)
SQ_KEYWORDS = sorted(
    entry[4]
    for tag, entry in DicomDictionary.items()
    if entry[0] == "SQ" and tag >> 16 not in (0x0000, 0x0002) and entry[4]
)
# sequences the profile keeps and walks into, and allow-listed ones: the hard cases
KEPT_SQ = [
    "SourceImageSequence",
    "ReferencedImageSequence",
    "AnatomicRegionSequence",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
    "RadiopharmaceuticalInformationSequence",
]

names = st.from_regex(r"Q[a-z]{5,9}", fullmatch=True)
patient_ids = st.from_regex(r"[A-Z]{2}[0-9]{6,9}", fullmatch=True)
# where to plant: a text attribute, reached through 0-4 sequences
places = st.tuples(
    st.lists(st.sampled_from(KEPT_SQ) | st.sampled_from(SQ_KEYWORDS), max_size=4),
    st.sampled_from(TEXT_KEYWORDS),
)


def _fit(keyword: str, text: str) -> str:
    vr = DicomDictionary[_tag(keyword)][0]
    text = text.upper() if vr in ("CS", "AE") else text
    return text[: _LIMITS.get(vr, 1024)]


def _tag(keyword: str) -> int:
    return next(t for t, e in DicomDictionary.items() if e[4] == keyword)


def _plant_at(ds: Dataset, path: list[str], keyword: str, value: str) -> None:
    for sq in path:
        item = Dataset()
        setattr(ds, sq, Sequence([item]))
        ds = item
    vr = DicomDictionary[_tag(keyword)][0]
    ds.add_new(_tag(keyword), vr, value)


@pytest.fixture
def tmp() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def _fresh(tmp: Path) -> Path:
    """A new folder for one hypothesis example (the fixture lives for the whole test)."""
    return Path(tempfile.mkdtemp(dir=tmp))


def _planted_ct(family: str, given_name: str, pid: str) -> FileDataset:
    ds = dcmread(BytesIO(CT))
    ds.PatientName = f"{family}^{given_name}"
    ds.PatientID = pid
    ds.OtherPatientIDs = [f"{pid}9"]
    return ds


def _run(ds: FileDataset, folder: Path, donor: Donor = DONOR) -> list[Path]:
    """Save ``ds`` as a one-file study and de-identify it; the written files."""
    source = folder / "in" / "source.dcm"
    source.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(source, enforce_file_format=True)
    header, reason = read_header(source)
    assert header is not None, reason
    out = folder / "out"
    deidentify_study([Instance(source, header)], donor, out)
    return sorted(out.rglob("*.dcm"))


def _assert_clean(files: list[Path], original: Dataset, needles: list[str]) -> None:
    identifiers = Identifiers()
    identifiers.add_dataset(original)
    assert files
    for path in files:
        data = path.read_bytes()
        assert raw_hits(data, needles) == []
        written = dcmread(path)
        assert find_leaks(written, identifiers, header_bytes(written)) == []


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    family=names,
    given_name=names,
    pid=patient_ids,
    plants=st.lists(
        st.tuples(places, st.sampled_from(["family", "given", "pid", "all"])),
        min_size=1,
        max_size=8,
    ),
    private=st.booleans(),
)
def test_planted_identifiers_never_survive(
    tmp: Path,
    family: str,
    given_name: str,
    pid: str,
    plants: list[tuple[tuple[list[str], str], str]],
    private: bool,
) -> None:
    ds = _planted_ct(family, given_name, pid)
    values = {
        "family": family,
        "given": given_name,
        "pid": pid,
        "all": f"{given_name} {family} {pid}",
    }
    for (path, keyword), which in plants:
        _plant_at(ds, path, keyword, _fit(keyword, values[which]))
    if private:
        block = ds.private_block(0x0011, "PLANTED", create=True)
        block.add_new(0x01, "LO", f"{family}^{given_name}")
        inner = Dataset()
        inner.PatientID = pid
        block.add_new(0x02, "SQ", Sequence([inner]))
    original = _planted_ct(family, given_name, pid)
    files = _run(ds, _fresh(tmp))
    _assert_clean(files, original, [family, given_name, pid])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(family=names, pid=patient_ids, plants=st.lists(places, max_size=4))
def test_de_identifying_twice_equals_once(
    tmp: Path, family: str, pid: str, plants: list[tuple[list[str], str]]
) -> None:
    tmp = _fresh(tmp)
    ds = _planted_ct(family, "Qanna", pid)
    for path, keyword in plants:
        _plant_at(ds, path, keyword, _fit(keyword, f"HEAD {family}"))
    ds.StudyDescription = f"CT HEAD {family} AXIAL"
    once = _run(ds, tmp / "once")
    assert len(once) == 1
    twice = _run(dcmread(once[0]), tmp / "twice")
    assert [p.relative_to(tmp / "twice") for p in twice] == [
        p.relative_to(tmp / "once") for p in once
    ]
    assert twice[0].read_bytes() == once[0].read_bytes()
    # and a re-run on the original gives the same bytes again (keyed, not random)
    again = _run(ds, tmp / "again")
    assert again[0].read_bytes() == once[0].read_bytes()


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    depth=st.integers(min_value=1, max_value=4),
    count=st.integers(min_value=2, max_value=4),
)
def test_uids_stay_consistent_across_the_files_of_a_study(
    tmp: Path, depth: int, count: int
) -> None:
    tmp = _fresh(tmp)
    root = "1.2.826.0.1.3680043.10.777."
    sources = []
    for n in range(count):
        ds = dcmread(BytesIO(CT))
        ds.StudyInstanceUID = root + "1"
        ds.SeriesInstanceUID = root + "2"
        ds.FrameOfReferenceUID = root + "3"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{root}10.{n}"
        ds.InstanceNumber = n + 1
        # each file refers to the previous one, the reference nested `depth` levels deep
        item = Dataset()
        item.ReferencedSOPClassUID = ds.SOPClassUID
        item.ReferencedSOPInstanceUID = f"{root}10.{(n - 1) % count}"
        for _ in range(depth - 1):
            outer = Dataset()
            outer.ReferencedSOPClassUID = ds.SOPClassUID
            outer.ReferencedSOPInstanceUID = f"{root}10.{(n - 1) % count}"
            outer.ReferencedImageSequence = Sequence([item])
            item = outer
        ds.SourceImageSequence = Sequence([item])
        path = tmp / "in" / f"{n}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        header, _ = read_header(path)
        assert header is not None
        sources.append(Instance(path, header))
    deidentify_study(sources, DONOR, tmp / "out")
    written = [dcmread(p) for p in sorted((tmp / "out").rglob("*.dcm"))]
    assert len(written) == count
    new_sop = {keys.uid(KEY, f"{root}10.{n}") for n in range(count)}
    assert {str(w.SOPInstanceUID) for w in written} == new_sop
    assert len({str(w.StudyInstanceUID) for w in written}) == 1
    assert len({str(w.FrameOfReferenceUID) for w in written}) == 1
    for w in written:
        assert w.file_meta.MediaStorageSOPInstanceUID == w.SOPInstanceUID
        item = w.SourceImageSequence[0]
        levels = 0
        while True:
            levels += 1
            assert item.ReferencedSOPInstanceUID in new_sop
            assert item.ReferencedSOPInstanceUID != w.SOPInstanceUID
            if "ReferencedImageSequence" not in item:
                break
            item = item.ReferencedImageSequence[0]
        assert levels == depth


def _code_item(meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = "LOCAL1"
    item.CodingSchemeDesignator = "99LOCAL"
    item.CodeMeaning = meaning
    return item


# allow-listed technical text and cleaned descriptions: where the engine keeps text
SPELLING_PLACES = ("ReceiveCoilName", "SequenceName", "ConvolutionKernel", "StudyDescription")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=names_in_scripts(),
    which=st.sampled_from(["family", "given"]),
    spelling=st.integers(min_value=0, max_value=7),
    place=st.sampled_from([*SPELLING_PLACES, "CodeMeaning"]),
)
def test_names_in_every_script_and_spelling_never_survive(
    tmp: Path, name: tuple[str, str, str], which: str, spelling: int, place: str
) -> None:
    """A name in any script, written back in another spelling (case, decomposed, accents
    stripped, transliterated) where the engine keeps text, is never published."""
    script, family, given_name = name
    ds = dcmread(BytesIO(CT))
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = f"{family}^{given_name}"
    variants = spellings(family if which == "family" else given_name)
    planted = variants[spelling % len(variants)]
    if place == "CodeMeaning":
        ds.AnatomicRegionSequence = Sequence([_code_item(f"{planted} head")])
    else:
        setattr(ds, place, f"{planted} T1"[:16])
    files = _run(ds, _fresh(tmp))
    assert len(files) == 1
    written = dcmread(files[0])
    texts = "\n".join(
        str(e.value) for e in written.iterall() if e.VR not in ("SQ", "OB", "OW", "UN")
    )
    folded = unicodedata.normalize("NFC", texts).casefold()
    for variant in variants:
        if len(variant) >= 2 or script in CJK_SCRIPTS:
            assert unicodedata.normalize("NFC", variant).casefold() not in folded, (
                script,
                place,
                planted,
            )


# -- UIDs in text: one pass over the text finds what a search per UID finds ----------

_UID_TEXTS = st.text(alphabet="0123456789.x ", max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    uids=st.sets(st.from_regex(r"[0-9]\.[0-9.]{0,6}[0-9.]", fullmatch=True), max_size=5),
    text=_UID_TEXTS,
    picks=st.lists(st.integers(0, 40), max_size=4),
)
def test_uids_are_found_where_a_search_for_each_uid_finds_them(
    uids: set[str], text: str, picks: list[int]
) -> None:
    from archive_builder.deid.matching import Matcher, _occurrences, _uid_alone

    # plant some of the UIDs in the text, at places hypothesis picks
    for n, (at, uid) in enumerate(zip(picks, sorted(uids), strict=False)):
        text = text[:at] + (uid if n % 2 else f" {uid} ") + text[at:]
    matcher = Matcher(uids=set(uids))
    found = sorted(matcher.spans(text, text=False))
    assert found == sorted(_occurrences(text, uids, _uid_alone))
