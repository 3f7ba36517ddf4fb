"""UIDs are looked up, not searched for, and the lookup finds exactly what the search found.

A study's N files hold N SOP Instance UIDs, all identifying values of the study:
searching every text of every file for each of them was O(N^2) (12 minutes for
10,000 files). The matcher instead looks up each run of digits and dots in a text
(and each of its prefixes that ends before a dot) in the set of UIDs. Finding less
than the search would publish a UID, so the search stays here as the reference
(``_occurrences`` with the ``_uid_alone`` rule, the matcher's own code for UIDs that
are not digits and dots) and the lookup is compared with it on adversarial text:
UIDs glued to digits, letters and dots, prefixes of each other, in other scripts'
digits, in binary values read as UTF-16, in a whole de-identified file.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator

from conftest import sample
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.uid import generate_uid

from archive_builder.deid import Identifiers
from archive_builder.deid.matching import Matcher, _occurrences, _uid_alone
from archive_builder.deid.normalise import forms
from archive_builder.deid.verify import binary_identifies, binary_readings, encode, find_leaks

# digits, dots, letters that fold, other scripts' digits and dots (Arabic-Indic,
# fullwidth), separators, NUL (UTF-16 read as bytes)
_ALPHABET = "0123456789....xXé ١٢３．\x00-_/"


def _searched(text: str, uids: Iterable[str]) -> list[str]:
    """What the search per UID finds in every folded form of ``text`` (the reference)."""
    terms = list(uids)
    return sorted(
        folded[s:e] for folded in forms(text) for s, e in _occurrences(folded, terms, _uid_alone)
    )


def _with_only_uids(uids: Iterable[str]) -> Identifiers:
    identifiers = Identifiers()
    identifiers.uids = set(uids)
    return identifiers


@st.composite
def _uids_and_text(draw: st.DrawFn) -> tuple[set[str], str]:
    """UIDs, some prefixes or extensions of others, and a text with some of them planted,
    glued to whatever hypothesis draws (digits, letters, dots, NUL)."""
    base = draw(st.from_regex(r"[1-9][0-9]?(\.[0-9]{1,3}){1,4}", fullmatch=True))
    arcs = base.split(".")
    uids = {base}
    uids |= {".".join(arcs[:n]) for n in draw(st.sets(st.integers(2, len(arcs)), max_size=3))}
    uids |= {base + "." + draw(st.from_regex(r"[0-9]{1,3}", fullmatch=True)) for _ in range(2)}
    uids |= {base + draw(st.from_regex(r"[0-9]{1,2}", fullmatch=True))}  # a longer last arc
    uids |= draw(st.sets(st.from_regex(r"[0-9]\.[0-9.]{0,6}[0-9.]", fullmatch=True), max_size=3))
    text = draw(st.text(alphabet=_ALPHABET, max_size=30))
    for uid in draw(st.lists(st.sampled_from(sorted(uids)), max_size=5)):
        at = draw(st.integers(0, len(text)))
        before = draw(st.sampled_from(["", " ", "7", ".", "x", "\x00", "١"]))
        after = draw(st.sampled_from(["", " ", "7", ".", ".5", "x", "\x00", "３"]))
        text = text[:at] + before + uid + after + text[at:]
    return uids, text


@settings(max_examples=400, deadline=None)
@given(case=_uids_and_text())
def test_the_lookup_finds_what_the_search_finds(case: tuple[set[str], str]) -> None:
    uids, text = case
    matcher = Matcher(uids=set(uids)).finish()
    assert matcher.odd_uids == []  # every UID here is digits and dots: looked up
    for folded in forms(text):
        found = sorted(matcher.spans(folded, text=False))
        assert found == sorted(_occurrences(folded, uids, _uid_alone)), folded


@settings(max_examples=300, deadline=None)
@given(case=_uids_and_text())
def test_identifiers_find_every_uid_the_search_finds_in_every_kind_of_text(
    case: tuple[set[str], str],
) -> None:
    """Through ``Identifiers.find``, as the engine and the verifier call it: free text,
    strict text (numbers, the encoded header) and binary values."""
    uids, text = case
    identifiers = _with_only_uids(uids)
    expected = _searched(text, uids)
    assert sorted(identifiers.find(text)) == expected
    assert sorted(identifiers.find(text, strict=True)) == expected
    assert sorted(identifiers.find(text, binary=True)) == expected


@settings(max_examples=200, deadline=None)
@given(case=_uids_and_text(), encoding=st.sampled_from(["utf-16-le", "utf-16-be", "latin-1"]))
def test_uids_in_binary_values_are_found_as_the_search_finds_them(
    case: tuple[set[str], str], encoding: str
) -> None:
    """A UID written into a binary value (as UTF-16, say) and read back by the verifier's
    binary readings: found whenever the search finds it in any reading."""
    uids, text = case
    raw = text.encode(encoding, errors="replace")
    element = DataElement(0x00091010, "OB", raw if len(raw) % 2 == 0 else raw + b"\x00")
    expected = any(_searched(reading, uids) for reading in binary_readings(element.value))
    assert binary_identifies(_with_only_uids(uids), element, element.tag) == expected


def test_a_uid_glued_in_a_longer_number_is_found_exactly_where_the_search_finds_it() -> None:
    uid = "1.2.826.0.1.3680043.2.1125.77"
    longer = uid + ".5"  # another UID of the study, with this one as its prefix
    identifiers = _with_only_uids({uid, longer})
    cases = {
        f"see {uid}": [uid],
        f"{uid}.": [uid],  # a dot after it: a sentence's end, still the UID
        f"{longer}": [uid, longer],
        f"{uid}5": [],  # a longer number, another UID: not this one
        f"9{uid}": [],  # digits before it: not a UID on its own
        f".{uid}": [],
        f"id{uid}x": [uid],  # letters glued to it
        f"{uid}\x00{longer}": [uid, uid, longer],
    }
    for text, expected in cases.items():
        assert sorted(identifiers.find(text)) == sorted(expected) == _searched(text, {uid, longer})


# -- no search per UID: the cost of a text does not grow with the study's UIDs ------------


class _CountingSet(set[str]):
    """The UIDs, counting lookups and every pass over all of them (a search per UID)."""

    lookups = 0
    passes = 0

    def __contains__(self, item: object) -> bool:
        type(self).lookups += 1
        return super().__contains__(item)

    def __iter__(self) -> Iterator[str]:
        type(self).passes += 1
        return super().__iter__()


def test_the_verifier_looks_uids_up_and_never_goes_through_them_all() -> None:
    """A real de-identified CT file verified against a study of 20,000 UIDs: no pass
    over the UIDs (what cost O(N) per text, O(N^2) per study), and the lookups are
    bounded by the file's runs of digits and dots, whatever the number of UIDs. Counting
    operations instead of timing: a regression to a search per UID fails here at once."""
    from collections import Counter

    from archive_builder.deid import Donor, deidentify

    path = sample("CT_small.dcm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = dcmread(path)
    donor = Donor(bytes(range(1, 33)), "don-uidlookup", date_offset_days=-30, patient_age="040Y")
    counts = []
    for size in (2_000, 20_000):
        identifiers = Identifiers()
        identifiers.add_dataset(original)
        for _ in range(size):
            identifiers.add_uid(generate_uid())
        clean = deidentify(original, donor, identifiers, Counter())
        encoded = encode(clean, path)
        matcher = identifiers.matcher()
        matcher.uids = _CountingSet(matcher.uids)
        _CountingSet.lookups = _CountingSet.passes = 0
        assert find_leaks(clean, identifiers, encoded.header) == []
        assert _CountingSet.passes == 0
        counts.append(_CountingSet.lookups)
    assert counts[0] == counts[1] > 0
