"""Write the table of letters that look like Latin letters, from Unicode's confusables.

    python tools/make_look_alikes.py

Unicode's confusables data (UTS #39, ``confusables.txt``) lists, for each
character, the characters a reader cannot tell from it; the
``confusable-homoglyphs`` package ships it as JSON (about a megabyte, half a
second to load in every worker process). The output,
``archive_builder/deid/look_alikes.txt``, keeps only what folding needs: each
character other than ASCII that is confusable with one ASCII letter (Cyrillic
е with e, Greek Ο with O...) and that case folding and compatibility
decomposition do not already turn into that letter (a capital whose
prototype is l, as I's is, stands for an i). A test checks that it is
what this script makes from the installed package. Re-running the script gives
the same bytes.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "archive_builder" / "deid" / "look_alikes.txt"


def _plain(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def table() -> dict[str, str]:
    from confusable_homoglyphs import utils

    confusables = utils.load("confusables.json")
    letters: dict[str, str] = {}
    for char, entries in sorted(confusables.items()):
        if len(char) != 1 or char.isascii():
            continue
        latin = sorted(e["c"] for e in entries if len(e["c"]) == 1 and e["c"].isascii())
        latin = [c for c in latin if c.isalpha()]
        if latin and not _plain(char).isascii():
            letter = latin[0].lower()
            # the prototype of I is l; a capital (Cyrillic І, Greek Ι) stands for an I
            if letter == "l" and unicodedata.category(char) == "Lu":
                letter = "i"
            letters[char] = letter
    return letters


def render() -> str:
    lines = [
        "# Characters confusable with one ASCII letter (Unicode confusables, UTS #39),\n",
        "# from the confusable-homoglyphs package by tools/make_look_alikes.py: do not edit.\n",
    ]
    for char, letter in sorted(table().items()):
        name = unicodedata.name(char, "")
        lines.append(f"{ord(char):04X}\t{letter}\t{name}\n")
    return "".join(lines)


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"{OUT}: {len(table())} characters")
