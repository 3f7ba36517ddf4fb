"""The licences a donor can choose, with what they mean in plain words.

One table for the configuration, `init`, the descriptors and the pages; it
imports nothing, so a command's ``--help`` can offer it without loading more.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class License:
    spdx: str
    name: str
    url: str
    summary: str


LICENSES = {
    "CC-BY-4.0": License(
        "CC-BY-4.0",
        "Creative Commons Attribution 4.0 International",
        "https://creativecommons.org/licenses/by/4.0/legalcode",
        "You may share and adapt these data for any purpose, even commercially, as long "
        "as you give appropriate credit (cite the dataset), link to the licence and say "
        "if you changed anything.",
    ),
    "CC0-1.0": License(
        "CC0-1.0",
        "Creative Commons Zero v1.0 Universal",
        "https://creativecommons.org/publicdomain/zero/1.0/legalcode",
        "The donor has waived all copyright and related rights: you may use these data "
        "for any purpose without asking permission. Citing the dataset is still good "
        "scientific practice.",
    ),
}


def license_text(spdx: str, subject: str) -> str:
    lic = LICENSES[spdx]
    return (
        f"{subject} is licensed under {lic.name} (SPDX: {lic.spdx}).\n\n"
        f"In plain words: {lic.summary}\n\n"
        f"The legal code: {lic.url}\n\n"
        "Re-identifying, or trying to re-identify, any person from these data is not "
        "permitted under this archive's terms of use, whatever the licence.\n"
    )
