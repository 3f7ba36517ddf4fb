"""The matching rules of identifying values, one example per rule, and the properties
that hold for any name in any script (README, De-identification)."""

from __future__ import annotations

import pytest
from conftest import names_in_scripts
from deid_corpus import spellings
from hypothesis import given, settings
from hypothesis import strategies as st

from archive_builder.deid import Identifiers


def _identifiers() -> Identifiers:
    found = Identifiers()
    for name in ("MÜLLER^JOSÉ", "STRAUß^Hans", "İBRAHİM^ÇELİK", "LI^NA", "Lee^Ann", "Vance^Ola"):
        found.add_name(name)
    for name in ("王^小明", "山田^太郎=やまだ^たろう", "홍^길동", "Smith-Jones^Mary", "Nance^Bo"):
        found.add_name(name)
    found.add_id("A12")
    found.add_id("55512345")
    found.add_id("314159265")
    found.add_value("Elmwood Valley Hospital")
    found.add_words("Elmwood Valley Hospital, 12 Quarry Lane")
    found.add_date("19800101")
    return found


@pytest.mark.parametrize(
    "text",
    [
        "MULLER",
        "Mueller",
        "Mu\u0308ller",  # decomposed (NFD)
        "JOSE",
        "STRAUSS",
        "Strauss",
        "IBRAHIM",
        "CELIK",
        "Çelik",
        "Na Li",
        "LINA",
        "NALI",
        "小明 头部",
        "山田",
        "太郎",
        "길동",
        "JONES",
        "SMITHJONES",
        "JVANCEO",  # initials glued to a part of five letters
        "DRVANCE",
        "VANCE1970",  # digits glued to a name
        "MRN55512345",
        "314_159_265",
        "314-159-265",
        "CT A12 HEAD",
        "Elmwood",
        "QUARRY",
        "1980 01 01",
        "01.01.1980",
        "D19800101",
    ],
)
def test_spellings_found(text: str) -> None:
    assert _identifiers().find(text), text


@pytest.mark.parametrize(
    "text",
    [
        "Sleep study",  # Lee
        "advanced",  # Vance: three letters glued
        "LINAC",  # Lina
        "line",
        "Magnetic Resonance",  # Nance inside a word
        "ORIGINAL\\PRIMARY\\AXIAL",
        "23Na spectroscopy",  # a two-letter part touching a digit
        "CT A123",  # a short ID inside a longer token
        "General Hospital",  # words of institutions that name no place
    ],
)
def test_ordinary_words_not_found(text: str) -> None:
    assert _identifiers().find(text) == [], text


def test_strict_texts_match_whole_words_only() -> None:
    found = _identifiers()
    assert found.find("55512345", strict=True)
    assert found.find("1.55512345", strict=True) == []  # a decimal number
    assert found.find("MRN55512345", strict=True) == []
    assert found.find("A12", strict=True) == []  # short IDs meet instance numbers
    assert found.find("NA", strict=True) == []  # two letters meet binary values


def test_remove_from_cuts_every_spelling_and_keeps_the_rest() -> None:
    found = _identifiers()
    assert found.remove_from("CT HEAD MUELLER 95") == "CT HEAD   95"
    assert found.remove_from("T1 314 159 265 AX").split() == ["T1", "AX"]
    cut = found.remove_from("Kopf STRAUß Mu\u0308ller axial")
    assert cut.split() == ["Kopf", "axial"]


def test_the_pseudonym_is_never_a_match() -> None:
    found = Identifiers(own={"don-bhrlh67kpaal"})
    found.add_name("Smith^Don")
    assert found.find("don-bhrlh67kpaal") == []
    assert found.find("Don Smith")


@settings(max_examples=150, deadline=None)
@given(
    name=names_in_scripts(),
    which=st.sampled_from(["family", "given"]),
    spelling=st.integers(min_value=0, max_value=7),
    before=st.sampled_from(["", "CT ", "Kopf ", "頭部 ", "MR: "]),
    after=st.sampled_from(["", " axial", " 3D", "\\T1", " 頭部"]),
)
def test_a_name_in_any_script_and_spelling_is_found_and_cut(
    name: tuple[str, str, str], which: str, spelling: int, before: str, after: str
) -> None:
    script, family, given = name
    found = Identifiers()
    found.add_name(f"{family}^{given}")
    word = family if which == "family" else given
    variants = spellings(word)
    planted = variants[spelling % len(variants)]
    text = f"{before}{planted}{after}"
    assert found.find(text), (script, planted)
    cut = found.remove_from(text)
    assert found.find(cut) == [], (script, cut)
    assert all(v.casefold() not in cut.casefold() for v in variants if len(v) >= 3)
