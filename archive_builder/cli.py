"""The command line: each command loads the archive and calls one library function.

Each command imports the stages it needs when it runs: importing this module
(and so ``--help`` and every command's start) brings in click and the
configuration reader only, not pydicom, pyarrow, DataLad or the text detector.
"""

from __future__ import annotations

import errno
import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import __version__
from .errors import ArchiveError, disk_full_message
from .licenses import LICENSES

if TYPE_CHECKING:
    from .archive import Archive

F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Errors the user can fix become one clear message and exit status 2, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ArchiveError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            click.echo(f"error: {disk_full_message(exc.filename or 'writing a file')}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo(
                "interrupted: the archive is consistent; run the same command again to finish.",
                err=True,
            )
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def open_archive(directory: Path) -> Archive:
    """The archive in ``directory`` (its module, and the configuration reader, are
    imported when a command opens an archive, not at start-up)."""
    from .archive import open_archive as open_

    return open_(directory)


archive_dir = click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), metavar="DIR"
)


class _Warnings(logging.Handler):
    """The library's warnings, one line each on standard error (never a traceback)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"warning: {record.getMessage()}", err=True)


def _show_warnings() -> None:
    logger = logging.getLogger("archive_builder")
    if not any(isinstance(h, _Warnings) for h in logger.handlers):
        logger.addHandler(_Warnings(logging.WARNING))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archive-builder")
def main() -> None:
    """Build a static open-data archive of donated, de-identified imaging studies.

    An archive is a folder: archive.toml (configuration), datasets/ (DataLad
    superdataset), site/ (the public website) and private/ (secret key,
    quarantine, logs; never published).
    """
    _show_warnings()


@main.command()
@archive_dir
@click.option("--name", default="Open Imaging Donations", show_default=True, help="Archive title.")
@click.option("--publisher", default="Example Health Data Service", show_default=True)
@click.option(
    "--contact",
    default="archive@example.org",
    show_default=True,
    help="E-mail for questions and withdrawals.",
)
@click.option(
    "--base-url",
    default="http://127.0.0.1:8000/",
    show_default=True,
    help="Public URL of the site.",
)
@click.option(
    "--license",
    "license_",
    type=click.Choice(list(LICENSES)),
    default="CC-BY-4.0",
    show_default=True,
)
@friendly
def init(
    directory: Path, name: str, publisher: str, contact: str, base_url: str, license_: str
) -> None:
    """Create an archive in DIR: archive.toml, secret key, empty superdataset."""
    from . import pipeline

    archive = pipeline.init(
        directory,
        name=name,
        publisher=publisher,
        contact=contact,
        base_url=base_url,
        license=license_,
    )
    root = archive.layout.root
    click.echo(f"created archive {archive.config.name!r} in {root}")
    click.echo(
        f"  edit {root / 'archive.toml'}, then: archive-builder ingest {directory} PACKAGE..."
    )
    click.echo(
        f"  keep a backup of {archive.layout.key_file}: without it, re-ingests are inconsistent"
    )


class _ProgressLine:
    """One line on the terminal's stderr, redrawn in place; cleared before other output."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, label: str, done: int, total: int) -> None:
        click.echo(f"\r  {label}: {done}/{total}\x1b[K", nl=False, err=True)
        self.shown = done != total
        if not self.shown:
            click.echo("", err=True)

    def clear(self) -> None:
        if self.shown:
            click.echo("\r\x1b[K", nl=False, err=True)
            self.shown = False


class _StepLines(_ProgressLine):
    """Off a terminal (a log, CI): one line when a step starts, nothing redrawn."""

    def __init__(self) -> None:
        super().__init__()
        self.last = ""

    def __call__(self, label: str, done: int, total: int) -> None:
        if label != self.last:
            self.last = label
            click.echo(f"  {label}...", err=True)


def _progress(quiet: bool) -> _ProgressLine | None:
    """Progress of long steps on stderr: redrawn on a terminal, else one line per step."""
    if quiet:
        return None
    return _ProgressLine() if sys.stderr.isatty() else _StepLines()


def _ingest(
    directory: Path,
    packages: tuple[Path, ...],
    quiet: bool,
    scheduler: str | None = None,
    jobs: int | None = None,
) -> int:
    from . import pipeline

    archive = open_archive(directory)
    counts: dict[str, int] = {}
    progress = _progress(quiet)
    results = pipeline.ingest(
        archive, list(packages), progress=progress, scheduler=scheduler, jobs=jobs
    )
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
        if not quiet or result.failed:
            if progress:
                progress.clear()
            click.echo(f"{result.status:<9} {result.path}: {result.message}", err=result.failed)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    if not quiet:
        click.echo(f"ingest: {summary or 'nothing to do'}")
    return 1 if counts.get("refused") or counts.get("error") else 0


scheduler_option = click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="A running Dask cluster's scheduler (tcp://host:8786) to do the work; its workers "
    "must see the archive folder and the inputs at the same paths (shared storage) and run "
    "this archive-builder version. Default: this machine's cores.",
)
jobs_option = click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Processes on this machine [default: all cores].",
)


@main.command()
@archive_dir
@click.argument(
    "packages", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PACKAGE..."
)
@click.option("-q", "--quiet", is_flag=True, help="Print only refusals.")
@scheduler_option
@jobs_option
@friendly
def ingest(
    directory: Path,
    packages: tuple[Path, ...],
    quiet: bool,
    scheduler: str | None,
    jobs: int | None,
) -> None:
    """De-identify donation packages (folders or .zip) and add each as a dataset.

    One line per package, in the order given, says what happened. The packages
    are worked on in parallel (local processes, or a Dask cluster with
    --scheduler); accepted donations join the archive many per commit. The exit
    status is 1 when any package was refused; refused packages leave the
    archive unchanged.
    """
    sys.exit(_ingest(directory, packages, quiet, scheduler, jobs))


@main.command()
@archive_dir
@click.option("-q", "--quiet", is_flag=True)
@friendly
def build(directory: Path, quiet: bool) -> None:
    """Write site/ (catalogs, descriptors, pages) and publish the DataLad store in site/store/."""
    from . import pipeline

    summary = pipeline.build(open_archive(directory), progress=_progress(quiet))
    if not quiet:
        click.echo(
            f"built {summary.site}: {summary.donations} donations, {summary.instances} DICOM "
            f"files; {summary.files} site files, {summary.changed} written, "
            f"{summary.removed} removed"
        )


@main.command()
@archive_dir
@click.argument("version")
@click.option(
    "--notes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Release notes, in Markdown.",
)
@click.option(
    "--strict/--no-strict",
    default=True,
    show_default=True,
    help="Refuse to release on warnings (no notes, nothing changed).",
)
@click.option("-q", "--quiet", is_flag=True)
@friendly
def release(directory: Path, version: str, notes: Path | None, strict: bool, quiet: bool) -> None:
    """Publish release VERSION: tags, CHANGELOG.md, changes.json and frozen catalogs.

    Releases are immutable: an existing VERSION is refused. A release that was
    interrupted or failed is finished by running the same command again.
    """
    from .release import actions

    text = notes.read_text(encoding="utf-8") if notes else ""
    info, doi_message = actions.release(
        open_archive(directory), version, text, strict=strict, progress=_progress(quiet)
    )
    click.echo(doi_message)
    click.echo(
        f"released {info.version}: {len(info.added)} added, {len(info.revised)} revised, "
        f"{len(info.withdrawn)} withdrawn"
    )


@main.command()
@archive_dir
@click.argument("donation_id", metavar="DONATION_ID")
@click.option("-q", "--quiet", is_flag=True)
@friendly
def withdraw(directory: Path, donation_id: str, quiet: bool) -> None:
    """Withdraw a donation, given the portal's DONATION_ID.

    Its dataset leaves the archive, its files leave the published store (old
    releases can no longer fetch them either), its page becomes a tombstone,
    and the site is rebuilt.
    """
    from .release import actions

    result = actions.withdraw(open_archive(directory), donation_id, progress=_progress(quiet))
    click.echo(result.message)


@main.command()
@archive_dir
@click.argument("url", metavar="URL")
@click.option(
    "--endpoint-url",
    metavar="URL",
    help="An S3-compatible server other than AWS (MinIO, Ceph, a cloud's S3 endpoint).",
)
@click.option("-q", "--quiet", is_flag=True)
@friendly
def deploy(directory: Path, url: str, endpoint_url: str | None, quiet: bool) -> None:
    """Upload the built site (pages, catalogs, DataLad store) to URL.

    URL is s3://BUCKET/PREFIX (credentials from the AWS environment variables
    or profile, never stored) or a folder. Only what changed since the last
    deploy is uploaded; files the build removed (a withdrawal) are deleted
    last. An interrupted deploy is finished by the next one.
    """
    from .deploy import deploy as upload

    progress = _progress(quiet)
    summary = upload(open_archive(directory), url, endpoint_url=endpoint_url, progress=progress)
    if progress:
        progress.clear()
    click.echo(
        f"deployed to {summary.target}: {summary.uploaded} files uploaded "
        f"({summary.uploaded_bytes / 1e6:.1f} MB), {summary.deleted} deleted, "
        f"{summary.unchanged} unchanged"
    )


@main.command()
@archive_dir
@friendly
def verify(directory: Path) -> None:
    """Check the published store (git annex fsck) and the site (checksums, stray files)."""
    from .verify import verify as check

    problems = check(open_archive(directory))
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        click.echo(f"verify: {len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo("verify: the store and the site are complete and intact")


@main.command()
@archive_dir
@click.argument("ledger", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.jsonl")
@friendly
def offers(directory: Path, ledger: Path) -> None:
    """Import donation-rate counts (the portal's offers ledger, JSON Lines).

    Version 1 and version 2 lines (with age_band and sex) are both accepted. A
    line for a (date, modality, anatomical_region, age_band, sex) already
    imported replaces it. The exact counts stay in private/; `build` publishes
    the donation rate with 95% Wilson intervals (catalog/donation_rate.parquet
    and .csv, the statistics and pilot pages), small counts withheld. A bad
    line anywhere imports nothing.
    """
    from . import pipeline

    added, replaced = pipeline.offers(open_archive(directory), ledger)
    click.echo(f"offers: {added} added, {replaced} replaced; run `build` to publish")


@main.command()
@click.argument("in_dir", type=click.Path(path_type=Path), metavar="IN_DIR")
@click.argument("out_dir", type=click.Path(path_type=Path), metavar="OUT_DIR")
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Secret key (created, mode 0600, if absent; never inside OUT_DIR). The same key "
    "gives the same pseudonyms, date shifts and UIDs on every run.",
)
@jobs_option
@scheduler_option
@click.option("-q", "--quiet", is_flag=True, help="Print only refusals.")
@friendly
def deid(
    in_dir: Path,
    out_dir: Path,
    key_file: Path,
    jobs: int | None,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """De-identify a folder of DICOM files into OUT_DIR, without an archive.

    Same engine and verification as ingest. One pseudonym and one date offset
    per patient; output is OUT_DIR/<pseudonym>/study-N/series-NNN/instance-NNNN.dcm
    with deid-report.json per study. A study that fails verification is
    refused and nothing of it is written. Exit status 1 when any study was refused.
    """
    from .deid.folder import deidentify_folder, load_or_create_key

    key = load_or_create_key(key_file, out_dir)
    refused = 0
    for outcome in deidentify_folder(in_dir, out_dir, key, jobs=jobs, scheduler=scheduler):
        refused += outcome.status == "refused"
        if not quiet or outcome.status == "refused":
            failed = outcome.status == "refused"
            click.echo(f"{outcome.status:<9} {outcome.path}: {outcome.message}", err=failed)
    sys.exit(1 if refused else 0)


@main.command()
@click.argument("source", metavar="SITE")
@click.option("--sql", help="The cohort query (SQL over donations, series and instances).")
@click.option("--url", "page_url", help="A cohort page's address; its query is used.")
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Folder for cohort.sh, cohort.csv and cohort-urls.txt.",
)
@friendly
def cohort(source: str, sql: str | None, page_url: str | None, out: Path) -> None:
    """Select a cohort by SQL over a site's catalogs, as the site's cohort page does.

    SITE is a published site's URL, a built site's folder, or its catalog/
    folder. The query returns public_id, and folder to select series or path
    to select files. Writes cohort.sh (datalad clone and get), cohort.csv
    (paths, sizes, SHA-256, git-annex keys, URLs) and cohort-urls.txt.
    """
    from .cohort import CohortError, query_of, select

    if (sql is None) == (page_url is None):
        raise CohortError("give the query with --sql, or a cohort page's address with --url")
    query = sql if sql is not None else query_of(str(page_url))
    result = select(source, query, out, progress=_progress(False))
    c = result.counts
    click.echo(
        f"cohort: {c.donations} donations, {c.series} series, {c.files} files, {c.bytes} bytes"
    )
    for path in result.written:
        click.echo(f"  wrote {path}")


def _serve(site: Path, port: int) -> None:
    from .serve import make_server, url_of

    server = make_server(site, port)
    click.echo(f"serving {site} at {url_of(server)}  (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()


@main.command()
@archive_dir
@click.option(
    "--port", default=8000, show_default=True, help="Port on 127.0.0.1 (0 picks a free one)."
)
@friendly
def serve(directory: Path, port: int) -> None:
    """Serve DIR/site on 127.0.0.1 for a preview."""
    _serve(open_archive(directory).layout.site, port)


@main.command()
@click.argument(
    "directory", default=".", type=click.Path(file_okay=False, path_type=Path), metavar="[DIR]"
)
@click.option("--port", default=8000, show_default=True, help="Port on 127.0.0.1 for the preview.")
@click.option("--no-serve", is_flag=True, help="Build the demo archive but do not serve it.")
@friendly
def demo(directory: Path, port: int, no_serve: bool) -> None:
    """Build a demo archive in DIR (default: here) from sample studies, then serve it.

    The sample studies are real DICOM files shipped by pydicom and pydicom-data;
    a sample offers ledger gives the donation rate, and the first run publishes
    release 1.0.0. Running it again reuses the archive: nothing is ingested or
    released twice.
    """
    from . import pipeline
    from .demo import RELEASE_NOTES, make_packages, write_offers
    from .release import actions
    from .release.registry import load_releases

    directory = directory.resolve()
    if (directory / "archive.toml").exists():
        archive = open_archive(directory)
        click.echo(f"reusing the archive in {directory}")
    else:
        archive = pipeline.init(
            directory,
            name="Open Imaging Donations (demo)",
            publisher="archive-builder demo",
            contact="demo@example.org",
            base_url=f"http://127.0.0.1:{port}/",
        )
        click.echo(f"created a demo archive in {directory}")
    packages = make_packages(archive.layout.private / "demo-packages")
    status = _ingest(directory, tuple(packages), quiet=False)
    if status:
        raise click.ClickException("some demo packages were refused; see above")
    ledger = write_offers(archive.layout.private / "demo-packages" / "offers.jsonl")
    added, replaced = pipeline.offers(archive, ledger)
    click.echo(f"offers: {added} added, {replaced} replaced from the demo portal's ledger")
    if not load_releases(archive.layout.datasets):
        info, doi_message = actions.release(
            archive, "1.0.0", RELEASE_NOTES, progress=_progress(False)
        )
        click.echo(f"released {info.version} ({doi_message})")
    summary = pipeline.build(archive, progress=_progress(False))
    click.echo(f"built {summary.site}: {summary.donations} donations, {summary.instances} files")
    if not no_serve:
        _serve(summary.site, port)
