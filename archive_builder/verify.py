"""``verify``: is what the archive serves complete, intact, and nothing more?"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .archive import Archive
from .process import run
from .release.registry import load_withdrawals
from .store import registered
from .store.publish import STORAGE, bare_repository

SUMS = "SHA256SUMS"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def read_sums(site: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    path = site / SUMS
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.partition("  ")
            sums[name] = digest
    return sums


def _site_files(site: Path) -> set[str]:
    return {
        p.relative_to(site).as_posix()
        for p in site.rglob("*")
        if p.is_file() and not p.relative_to(site).as_posix().startswith("store/")
    } - {SUMS}


def verify_site(site: Path) -> list[str]:
    problems: list[str] = []
    sums = read_sums(site)
    if not sums:
        return [f"{site / SUMS} is missing; run `archive-builder build`"]
    present = _site_files(site)
    for name in sorted(set(sums) - present):
        problems.append(f"site/{name} is listed in {SUMS} but missing")
    for name in sorted(present - set(sums)):
        problems.append(f"site/{name} is not part of the build (extra file)")
    for name in sorted(set(sums) & present):
        if sha256(site / name) != sums[name]:
            problems.append(f"site/{name} does not match its checksum")
    for name in sorted(n for n in present if n.endswith(".sha256")):
        expected = (site / name).read_text(encoding="ascii").split()[0]
        target = site / name.removesuffix(".sha256")
        if not target.is_file() or sha256(target) != expected:
            problems.append(f"site/{name.removesuffix('.sha256')} does not match {name}")
    return problems


def verify_store(archive: Archive) -> list[str]:
    layout = archive.layout
    store = layout.store
    problems: list[str] = []
    if not (store / "ria-layout-version").is_file():
        return [f"{store} holds no DataLad store; run `archive-builder build`"]
    for public_id in registered(layout.datasets):
        dataset = layout.datasets / public_id
        if (
            not bare_repository(store, dataset).is_dir()
            or not (store / "alias" / public_id).exists()
        ):
            problems.append(f"store: {public_id} is not published")
            continue
        result = run(
            ["git", "-C", str(dataset), "annex", "fsck", "--from", STORAGE, "--quiet"], check=False
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            problems.append(f"store: {public_id}: git annex fsck failed: " + " | ".join(detail))
    for withdrawal in load_withdrawals(layout.datasets):
        if (store / "alias" / withdrawal.public_id).exists():
            problems.append(f"store: withdrawn donation {withdrawal.public_id} is still published")
    return problems


def verify(archive: Archive) -> list[str]:
    return verify_store(archive) + verify_site(archive.layout.site)
