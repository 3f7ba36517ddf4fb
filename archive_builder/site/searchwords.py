"""What a donation's search document says, so that the search finds what people type.

- Diagnoses in British and American spelling: a curated list of the medical word
  stems that differ (haemorrhage/hemorrhage, oedema/edema, tumour/tumor...);
  general-purpose spelling lists miss most of them.
- Every label the archive has for the same diagnosis code (one donation may say
  "haemorrhage" where another, coded the same, says "hemorrhage"), and the code
  with and without its dot.
- Sex as a word ("female"), never a letter that prefix search would match
  against any word starting with "m" or "f"; the id is matched exactly by the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

# (British, American) stems, matched at the start of a word (after "an"/"leuk"... as listed).
SPELLINGS = (
    ("haem", "hem"),
    ("anaem", "anem"),
    ("ischaem", "ischem"),
    ("leukaem", "leukem"),
    ("septicaem", "septicem"),
    ("hyperaem", "hyperem"),
    ("oedem", "edem"),
    ("oesophag", "esophag"),
    ("oestr", "estr"),
    ("paediatr", "pediatr"),
    ("orthopaed", "orthoped"),
    ("encyclopaed", "encycloped"),
    ("foet", "fet"),
    ("diarrhoe", "diarrhe"),
    ("dyspnoe", "dyspne"),
    ("apnoe", "apne"),
    ("gynaec", "gynec"),
    ("anaesth", "anesth"),
    ("coeliac", "celiac"),
    ("caesar", "cesar"),
    ("tumour", "tumor"),
    ("fibre", "fiber"),
    ("centre", "center"),
    ("litre", "liter"),
    ("haematom", "hematom"),
)
# American words that begin like a British stem's American form but are not spellings of it.
NOT_VARIANTS = re.compile(r"^(hemi|hemp|hem$|fetch)", re.IGNORECASE)
WORD = re.compile(r"[A-Za-z]+")
SEX_WORDS = {"F": "female", "M": "male", "O": "other sex"}


def spelling_variants(text: str) -> list[str]:
    """The other spelling of every word of ``text`` that has one, each once, in order."""
    return list(_variants(text))


@lru_cache(maxsize=4096)  # labels repeat across thousands of donations
def _variants(text: str) -> tuple[str, ...]:
    found: list[str] = []
    for word in WORD.findall(text):
        lower = word.lower()
        for british, american in SPELLINGS:
            if lower.startswith(british):
                other = american + lower[len(british) :]
            elif lower.startswith(american) and not NOT_VARIANTS.match(lower):
                other = british + lower[len(american) :]
            else:
                continue
            if other not in found:
                found.append(other)
            break
    return tuple(found)


def code_forms(system: str, code: str) -> list[str]:
    """``("ICD-10", "I61.9")`` -> ``["I61.9", "I619"]``: as written and without its dot."""
    forms = [code]
    if "." in code:
        forms.append(code.replace(".", ""))
    return forms


def labels_by_code(records: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """``"SYSTEM:CODE"`` -> every distinct display the archive's records give it."""
    labels: dict[str, list[str]] = {}
    for record in records:
        for d in record["study"]["diagnoses"]:
            seen = labels.setdefault(f"{d['system']}:{d['code']}", [])
            if d.get("display") and d["display"] not in seen:
                seen.append(d["display"])
    return labels


def search_words(
    record: Mapping[str, Any],
    modalities: Sequence[str],
    series_descriptions: Sequence[str],
    age_band: str,
    labels: Mapping[str, Sequence[str]],
) -> list[str]:
    """The words of one donation's search document, without its id (the page matches ids)."""
    words: list[str] = [record["study"]["anatomical_region"], *modalities]
    for d in record["study"]["diagnoses"]:
        words += [d["system"], *code_forms(d["system"], d["code"])]
        for label in labels.get(f"{d['system']}:{d['code']}") or [d.get("display") or ""]:
            words += [label, *spelling_variants(label)]
    words += series_descriptions
    sex = record["subject"]["sex"]
    words += [SEX_WORDS.get(sex, ""), f"age {age_band}", record["license"]]
    return [w for w in words if w]
