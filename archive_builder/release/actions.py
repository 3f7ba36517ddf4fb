"""``release`` and ``withdraw``: the two commands that change what the archive has published."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime

from .. import keys
from ..archive import Archive, Layout, locked
from ..fair import (
    credentials_from_env,
    register_release_dois,
    release_doi,
    write_release_descriptors,
    write_release_files,
)
from ..pipeline import Progress, Result, build_site, committer_for, stored_donations
from ..sitefiles import SiteWriter
from ..store import is_registered
from ..store.content import StoredDonation
from ..store.datasets import save, subdataset_commits, tag, tag_exists
from ..store.withdraw import purge_from_store, remove_donation
from .errors import ReleaseError
from .freeze import changes, scrub
from .model import ReleaseInfo, Withdrawal
from .registry import (
    CHANGELOG,
    RELEASES,
    WITHDRAWALS,
    load_releases,
    load_withdrawals,
    save_releases,
    save_withdrawals,
)

_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
_DONATION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def release(
    archive: Archive,
    version: str,
    notes: str = "",
    *,
    strict: bool = True,
    progress: Progress | None = None,
) -> tuple[ReleaseInfo, str]:
    """Publish an immutable release; return it and what happened about its DOI.

    Order matters for atomicity: everything that can refuse (checks, the DOI
    registration) happens before the first commit; then the superdataset
    records the release, tags are set, files are frozen and the site rebuilt.
    """
    if not _VERSION.fullmatch(version) or version.endswith((".", ".lock")):
        raise ReleaseError(f"{version!r} is not a usable version; use e.g. 1.0.0 or 2026.11")
    layout, config = archive.layout, archive.config
    committer = committer_for(archive)
    with locked(layout):
        history = load_releases(layout.datasets)
        if any(info.version == version for info, _ in history) or tag_exists(
            layout.datasets, version
        ):
            raise ReleaseError(
                f"release {version} exists; releases are immutable. Choose a new version."
            )
        current = subdataset_commits(layout.datasets)
        before = history[-1][1] if history else {}
        added = tuple(sorted(set(current) - set(before)))
        withdrawn = tuple(sorted(set(before) - set(current)))
        revised = tuple(sorted(p for p in set(current) & set(before) if current[p] != before[p]))
        credentials = credentials_from_env()
        warnings = []
        if not notes.strip():
            warnings.append("no release notes (write them in Markdown and pass --notes FILE)")
        if history and not (added or withdrawn or revised):
            warnings.append(f"nothing changed since release {history[-1][0].version}")
        if config.doi_prefix and credentials is None:
            warnings.append(
                "doi_prefix is set but DATACITE_USERNAME and DATACITE_PASSWORD are not, "
                "so the DOI would not be registered"
            )
        if warnings and strict:
            raise ReleaseError(
                "release refused in strict mode: "
                + "; ".join(warnings)
                + ". Fix this, or pass --no-strict to release anyway."
            )
        info = ReleaseInfo(version, _today(), notes, None, added, withdrawn, revised)
        previous = history[-1][0] if history else None
        donations = stored_donations(layout)
        all_releases = [*(i for i, _ in history), info]
        registration = register_release_dois(
            config, info, previous, donations, all_releases, credentials
        )
        if registration.status == "registered":
            info = ReleaseInfo(
                version, info.date, notes, release_doi(config, info), added, withdrawn, revised
            )
            all_releases[-1] = info
        history.append((info, current))
        save_releases(layout.datasets, history)
        save(
            layout.datasets,
            f"Release {version}",
            committer,
            layout.datasets / RELEASES,
            layout.datasets / CHANGELOG,
        )
        if progress:
            progress(f"release {version}: tags and frozen catalogs", 0, 1)
        for public_id in (*added, *revised):
            tag(layout.datasets / public_id, version, committer)
        tag(layout.datasets, version, committer)
        _freeze(archive, info, previous, all_releases, donations)
        frozen = SiteWriter(layout.releases, keep_prefixes=())
        frozen.text(f"{version}/doi.json", json.dumps(registration.record(), indent=1) + "\n")
        build_site(archive, progress)
    return info, registration.message


def _freeze(
    archive: Archive,
    info: ReleaseInfo,
    previous: ReleaseInfo | None,
    releases: list[ReleaseInfo],
    donations: list[StoredDonation],
) -> None:
    """The release's catalogs and descriptors, without the donation rate.

    The donation rate is the pilot's running outcome, published in one current
    version only: two versions of the same counts, suppressed differently,
    could be subtracted from each other.
    """
    layout = archive.layout
    folder = layout.releases / info.version
    if folder.exists():
        shutil.rmtree(folder)  # left by an attempt that did not finish; the tag is new
    frozen = SiteWriter(layout.releases, keep_prefixes=())
    write_release_files(
        archive.config,
        donations,
        info,
        previous,
        frozen,
        releases=releases,
        withdrawals=load_withdrawals(layout.datasets),
        folder=f"{info.version}/",
    )
    changed = changes(info, previous.version if previous else None)
    frozen.text(f"{info.version}/changes.json", json.dumps(changed, indent=1) + "\n")


def withdraw(archive: Archive, donation_id: str, progress: Progress | None = None) -> Result:
    """Withdraw a donation: out of the datasets, the store, the site and every frozen release.

    The portal's donation id finds the donation again through the keyed hash;
    nothing that links the two is kept. The private log records the public
    id and the time, not the donation id.
    """
    if not _DONATION_ID.fullmatch(donation_id):
        raise ReleaseError(
            "that is not a portal donation id (8 to 64 letters, digits, '-' or '_'); "
            "nothing was changed"
        )
    layout = archive.layout
    public_id = keys.public_id(archive.key, donation_id)
    committer = committer_for(archive)
    with locked(layout):
        withdrawals = load_withdrawals(layout.datasets)
        already = any(w.public_id == public_id for w in withdrawals)
        present = is_registered(layout, public_id)
        if not already and not present:
            raise ReleaseError(
                "no donation with that donation id is in the archive; check the id "
                "(nothing was changed)"
            )
        day = next((w.date for w in withdrawals if w.public_id == public_id), _today())
        if not already:
            withdrawals.append(Withdrawal(public_id, day))
            save_withdrawals(layout.datasets, withdrawals)
            save(
                layout.datasets,
                f"Withdraw donation {public_id}",
                committer,
                layout.datasets / WITHDRAWALS,
            )
        if present:
            remove_donation(layout.datasets, public_id, f"Withdraw donation {public_id}", committer)
        purged = purge_from_store(layout.store, public_id)
        scrubbed = _scrub_releases(archive, public_id, day)
        _log_withdrawal(layout, public_id)
        build_site(archive, progress)
    if present or purged or scrubbed or not already:
        return Result(
            "withdraw",
            "ok",
            public_id,
            f"{public_id} withdrawn: removed from the datasets, the store and the site",
            public_id,
        )
    return Result(
        "withdraw",
        "notneeded",
        public_id,
        f"{public_id} was already withdrawn on {day}; nothing changed",
        public_id,
    )


def _scrub_releases(archive: Archive, public_id: str, day: str) -> bool:
    """Remove the donation's rows from every frozen release, and re-describe those releases."""
    layout = archive.layout
    history = load_releases(layout.datasets)
    donations = stored_donations(layout)
    touched = False
    for index, (info, _) in enumerate(history):
        folder = layout.releases / info.version
        if folder.is_dir() and scrub(folder, public_id, day):
            touched = True
            previous = history[index - 1][0] if index else None
            kept = [d for d in donations if d.public_id in history[index][1]]
            write_release_descriptors(
                archive.config,
                kept,
                info,
                previous,
                SiteWriter(layout.releases, keep_prefixes=()),
                folder=f"{info.version}/",
            )
    return touched


def _log_withdrawal(layout: Layout, public_id: str) -> None:
    layout.logs.mkdir(parents=True, exist_ok=True)
    entry = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "public_id": public_id}
    with (layout.logs / "withdrawals.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
