"""The pipeline, one function per command: each reads like the architecture.

``ingest``: open the package, derive its public id, de-identify and verify,
save as a dataset. ``build``: catalog, describe, render, publish.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import keys
from .archive import Archive, Layout, create_layout, locked, open_archive
from .catalog import import_offers, ledger_path, load_ledger, write_catalogs
from .deid import DeidError, Donor, LeakError, age_string, deidentify_study
from .fair import write_archive_files
from .intake import IntakeError, Package, open_package
from .release.freeze import retire_offers
from .release.model import ReleaseInfo
from .release.registry import (
    load_releases,
    load_withdrawals,
)
from .site import render_site
from .site.pilot import intake_counts
from .sitefiles import SiteWriter
from .store import Committer, add_donation, create_superdataset, is_registered, recover, registered
from .store.content import (
    INSTANCES,
    README,
    RECORD,
    REPORT,
    StoredDonation,
    instance_entry,
    read_donation,
)
from .store.datasets import subdataset_commits
from .store.publish import publish
from .store.withdraw import purge_from_store
from .verify import SUMS, read_sums, sha256

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Result:
    """What happened to one item of a batch (as datalad-next reports it)."""

    action: str
    status: str  # ok | notneeded | refused | error
    path: str
    message: str
    public_id: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("refused", "error")


def committer_for(archive: Archive) -> Committer:
    name, email = archive.config.identity
    return Committer(name, email)


def init(
    root: Path,
    *,
    name: str,
    publisher: str,
    contact: str,
    base_url: str,
    license: str = "CC-BY-4.0",
) -> Archive:
    """Create an archive: configuration, secret key, and the empty superdataset."""
    layout = create_layout(
        root, name=name, publisher=publisher, contact=contact, base_url=base_url, license=license
    )
    archive = open_archive(layout.root)
    with locked(layout):
        readme = layout.datasets / README
        layout.datasets.mkdir(parents=True, exist_ok=True)
        if not readme.exists():
            readme.write_text(DATASETS_README, encoding="utf-8")
        create_superdataset(layout.datasets, committer_for(archive), layout.staging)
    return archive


DATASETS_README = """\
# datasets/

This folder is the archive's DataLad superdataset: one subdataset per donation,
at `datasets/<public-id>/`, each holding the de-identified DICOM files of one
study (in git-annex) and its small descriptive files (in git).

It is written by `archive-builder ingest`; do not edit it by hand.
Researchers clone it from the published site (`datalad clone`), not from here.
"""


def _readme(public_id: str, record: dict[str, object], base_url: str) -> str:
    return f"""\
# Donation {public_id}

An imaging study that its patient chose to donate for research, de-identified
following DICOM PS3.15 Annex E (see `deid-report.json`).

- Licence: {record["license"]}
- Description and citation: {base_url}datasets/{public_id}/

Files:
- `donation.json`: age, sex, examined region, diagnoses, licence
- `instances.json`: every DICOM file with its size, SHA-256 and main attributes
- `deid-report.json`: what de-identification did
- `series-NNN/instance-NNNN.dcm`: the DICOM files (fetch with `datalad get`)
"""


def _quarantine(layout: Layout, package: Path, token: str, reason: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = layout.quarantine / f"{stamp}-{token}"
    target.mkdir(parents=True, exist_ok=False)
    if package.is_dir():
        shutil.copytree(package, target / "package", symlinks=True)
    else:
        shutil.copy2(package, target / package.name)
    (target / "reason.txt").write_text(reason + "\n", encoding="utf-8")
    return target


def _log(layout: Layout, result: Result, token: str | None) -> None:
    layout.logs.mkdir(parents=True, exist_ok=True)
    entry = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "action": result.action,
        "status": result.status,
        "donation": token,
        "public_id": result.public_id,
        "message": result.message,
    }
    with (layout.logs / "ingest.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def _ingest_one(
    archive: Archive, package: Package, committer: Committer, progress: Progress | None
) -> Result:
    layout, key, record = archive.layout, archive.key, package.record
    public_id = keys.public_id(key, record.donation_id)
    label = str(package.source)
    if is_registered(layout, public_id):
        return Result(
            "ingest",
            "notneeded",
            label,
            f"already in the archive as {public_id}; nothing changed",
            public_id,
        )
    donor = Donor(
        key=key,
        public_id=public_id,
        date_offset_days=keys.date_offset_days(key, record.donation_id),
        patient_age=age_string(record.age_years),
        sex=record.sex,
    )

    def fill(dataset: Path) -> None:
        def step(done: int, total: int) -> None:
            if progress:
                progress(public_id, done, total)

        study = deidentify_study(
            package.instances, donor, dataset, secrets=[record.donation_id], progress=step
        )
        study.skipped.extend(package.skipped)
        public_record = record.public(public_id)
        instances = [
            instance_entry(o.relpath, dataset / o.relpath, o.header, o.transfer_syntax)
            for o in study.outputs
        ]
        gate = study.gate()  # every text that leaves private/ passes it
        gate.write_json(dataset / RECORD, public_record)
        gate.write_json(dataset / REPORT, study.report())
        gate.write_json(dataset / INSTANCES, instances)
        gate.write_text(
            dataset / README, _readme(public_id, public_record, archive.config.base_url)
        )
        gate.check_folder(dataset, [o.relpath for o in study.outputs])

    add_donation(layout, committer, public_id, fill, f"Add donation {public_id}")
    return Result("ingest", "ok", label, f"added as {public_id}", public_id)


def ingest(
    archive: Archive, packages: Sequence[Path], progress: Progress | None = None
) -> Iterator[Result]:
    """Ingest each package; yield one result per package (and per recovery step)."""
    layout = archive.layout
    committer = committer_for(archive)
    with locked(layout):
        for note in recover(layout, committer):
            yield Result("recover", "ok", str(layout.datasets), note)
        for source in packages:
            token: str | None = None
            try:
                with open_package(source, archive.config.limits, layout.staging) as package:
                    token = keys.log_token(archive.key, package.record.donation_id)
                    try:
                        result = _ingest_one(archive, package, committer, progress)
                    except LeakError as exc:
                        where = _quarantine(layout, source, token, str(exc))
                        result = Result(
                            "ingest",
                            "refused",
                            str(source),
                            f"{exc}. Nothing was published; the package is quarantined in "
                            f"{where.relative_to(layout.root)}.",
                        )
                    except DeidError as exc:
                        result = Result("ingest", "refused", str(source), str(exc))
            except IntakeError as exc:
                result = Result(
                    "ingest", "refused", str(source), str(exc).removeprefix(f"{source}: ")
                )
            _log(layout, result, token)
            yield result


def _copy_frozen_releases(layout: Layout, site: SiteWriter) -> None:
    if not layout.releases.is_dir():
        return
    for path in sorted(layout.releases.rglob("*")):
        if path.is_file():
            relpath = path.relative_to(layout.releases).as_posix()
            site.bytes(f"releases/{relpath}", path.read_bytes())


def offers(archive: Archive, source: Path) -> tuple[int, int]:
    """Merge an offers ledger (JSON Lines) into the archive's; return (added, replaced).

    The exact counts stay under ``private/``; ``build`` publishes them with small
    counts suppressed. A bad line anywhere leaves the archive unchanged.
    """
    with locked(archive.layout):
        return import_offers(ledger_path(archive.layout.private), source)


def _write_sums(site: SiteWriter) -> None:
    """SHA256SUMS of every site file (the store aside), rehashing only what this build changed."""
    previous = read_sums(site.root)
    lines = []
    for relpath in sorted(site.written - {SUMS}):
        digest = previous.get(relpath)
        if digest is None or relpath in site.changed:
            digest = sha256(site.root / relpath)
        lines.append(f"{digest}  {relpath}\n")
    site.text(SUMS, "".join(lines))


def stored_donations(layout: Layout) -> list[StoredDonation]:
    return [read_donation(layout.datasets / pid) for pid in registered(layout.datasets)]


@dataclass(frozen=True)
class BuildSummary:
    donations: int
    instances: int
    files: int
    changed: int
    removed: int
    site: Path


def _current_release(
    layout: Layout, history: list[tuple[ReleaseInfo, dict[str, str]]]
) -> str | None:
    """The latest release when the datasets are exactly as it recorded them, else None."""
    if not history:
        return None
    info, recorded = history[-1]
    return info.version if subdataset_commits(layout.datasets) == recorded else None


def build(archive: Archive, progress: Progress | None = None) -> BuildSummary:
    """Write the site: catalogs, descriptors, pages, then publish the DataLad store.

    Every file is replaced atomically and only when its bytes change; files
    a build no longer produces are removed at the end. Withdrawn donations
    are purged from the store on every build, so an interrupted withdrawal
    is completed by the next one.
    """
    layout = archive.layout
    with locked(layout):
        return build_site(archive, progress)


def build_site(archive: Archive, progress: Progress | None = None) -> BuildSummary:
    """``build`` for callers that already hold the archive's lock (release, withdraw)."""
    layout = archive.layout
    donations = stored_donations(layout)
    history = load_releases(layout.datasets)
    releases = [info for info, _ in history]
    withdrawals = load_withdrawals(layout.datasets)
    site = SiteWriter(layout.site)
    offers = load_ledger(ledger_path(layout.private))
    write_catalogs(
        archive.config,
        donations,
        site,
        release=_current_release(layout, history),
        releases=releases,
        withdrawals=withdrawals,
        offers=offers,
    )
    write_archive_files(archive.config, donations, site, releases=releases)
    retire_offers(archive.config, layout.releases, history, donations)
    _copy_frozen_releases(layout, site)
    render_site(
        archive.config,
        donations,
        site,
        overrides=layout.templates,
        releases=releases,
        withdrawals=withdrawals,
        offers=offers,
        cache=layout.root / ".cache",
        intake=intake_counts(layout.logs / "ingest.jsonl"),
    )
    _write_sums(site)
    removed = site.finish()
    for withdrawal in withdrawals:
        purge_from_store(layout.store, withdrawal.public_id)
    publish(
        layout.datasets,
        [d.public_id for d in donations],
        layout.store,
        archive.config.base_url,
        committer_for(archive),
        progress,
    )
    return BuildSummary(
        donations=len(donations),
        instances=sum(len(d.instances) for d in donations),
        files=len(site.written),
        changed=len(site.changed),
        removed=len(removed),
        site=layout.site,
    )
