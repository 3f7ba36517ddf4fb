"""Benchmark: past one machine. Ingest serial vs a Dask LocalCluster, first publication,
deploy to S3, and one very large study.

    .venv/bin/python benchmarks/bench_scale.py [--donations 1000] [--studies 50]
        [--study-files 200] [--large 10000] [--skip ...]

1. Ingest of N one-file donations, and of S studies of F files, in one process
   (``jobs=1``, the baseline) and on a local Dask cluster of all cores (the
   default for a job this size); the target is 1.8x the serial throughput
   with two workers.
2. First publication of the N datasets to the store (target < 5 minutes for
   1,000) by the bulk path, then the rest of the build (pages, catalogs); beside
   it the DataLad path (``create-sibling``/``push`` per dataset, ``bulk=False``)
   on a sample of ``--old-sample`` donations of a second archive, extrapolated
   to N (it costs about 1.7 s per dataset, so measuring it on all N would take
   half an hour). ``--publication-only`` measures only this, on replicas of
   ``--seeds`` ingested donations (copies with new DataLad ids, registered with
   git plumbing), for a machine where ingesting 1,000 donations takes hours.
3. Deploy of the site to a real S3 server on 127.0.0.1 (moto's standalone
   server): first, unchanged, and after one more donation (only its objects
   and the pages that list it are uploaded).
4. A study of ``--large`` files (and one of a tenth of it), ingested by the
   command line in a fresh process: time per file and peak memory (targets:
   no more than 10x the tenth's time, under 500 MB).

Synthetic DICOM: a real CT header from pydicom's test data with fresh UIDs and
random 16-bit pixels (64x64 for the many small files, so the disk holds them).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
import uuid
import warnings
from pathlib import Path

import pydicom.data
from bench_store import RECORD, new_archive, synthetic_study, timed
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from archive_builder import pipeline
from archive_builder.archive import Archive, open_archive
from archive_builder.pixels.review import _SCREENED as screened
from archive_builder.store.publish import publish

warnings.simplefilter("ignore")
CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
SCRIPTS = Path(sysconfig.get_path("scripts"))


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (LocalCluster workers,
    git, git-annex): what a run costs, whatever else loads the machine."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def where(packages: int) -> str:
    """Where ``ingest`` runs this many packages on all cores (``workers.estimate_kind``:
    a forked process pool below ``DASK_FROM`` seconds of estimated work)."""
    from archive_builder.pipeline import SECONDS_PER_PACKAGE
    from archive_builder.workers import estimate_kind

    jobs = os.cpu_count() or 1
    kind = estimate_kind(jobs, packages, packages * SECONDS_PER_PACKAGE, None)
    return {"dask": "LocalCluster", "processes": f"{jobs} forked processes"}.get(kind, kind)


def ingest_both(
    work: Path, name: str, packages: list[Path]
) -> tuple[float, float, Path, tuple[float, float]]:
    """Serial and LocalCluster ingest of the same packages into two archives: seconds of
    each, the cluster's archive, and the CPU seconds of each."""
    times, cpu = [], []
    for mode, options in (("serial", {"jobs": 1}), ("cluster", {})):
        archive = new_archive(work / f"{name}-{mode}")
        # each run screens from scratch: a forked worker inherits what this process has
        # screened, and both runs ingest the same packages
        screened.results.clear()
        before = cpu_seconds()
        seconds, results = timed(
            lambda a=archive, o=options: list(pipeline.ingest(a, packages, **o))
        )
        cpu.append(cpu_seconds() - before)
        bad = [r for r in results if r.action == "ingest" and r.status != "ok"]
        assert not bad, bad[:3]
        times.append(seconds)
        print(f"  {name} {mode}: {seconds:.1f} s, {cpu[-1]:.1f} s of CPU", file=sys.stderr)
    return times[0], times[1], work / f"{name}-cluster", (cpu[0], cpu[1])


def bench_publication(work: Path, opened: Archive, sample: list[Path]) -> list[tuple[str, str]]:
    """First publication of ``opened``'s datasets by the bulk path, and of a second archive
    of ``sample`` donations the DataLad way (``bulk=False``), extrapolated."""
    ids = [p.name for p in sorted(opened.layout.datasets.glob("don-*"))]
    n = len(ids)
    old_root = work / "old-path"
    results = list(pipeline.ingest(new_archive(old_root), sample))
    assert all(r.status == "ok" for r in results if r.action == "ingest")
    old = open_archive(old_root)
    old_ids = [p.name for p in sorted(old.layout.datasets.glob("don-*"))]
    rows = []
    for label, archive, names, bulk in (
        ("DataLad path (create-sibling, push per dataset)", old, old_ids, False),
        ("bulk path (plain git, copies, 2x cores at once)", opened, ids, True),
    ):
        print(f"  publication, {label}, load {os.getloadavg()[0]:.1f}", file=sys.stderr)
        seconds, pushed = timed(
            publish,
            archive.layout.datasets,
            names,
            archive.layout.store,
            archive.config.base_url,
            pipeline.committer_for(archive),
            bulk=bulk,
        )
        assert len(pushed) == len(names), (len(pushed), len(names))
        per = seconds / len(names)
        shown = f"{seconds:.1f} s ({per:.2f} s each)"
        if len(names) != n:
            shown += f", {per * n:.0f} s extrapolated to {n}"
        rows.append(
            (
                f"first publication of {len(names)} datasets, {label} (target < 300 s for 1,000)",
                shown,
            )
        )
    return rows


def replicate(seed: Path, root: Path, count: int) -> Archive:
    """An archive of ``count`` donation datasets, copies of ``seed``'s with new DataLad ids
    (one commit each), registered with git plumbing as DataLad registers them: what a
    first publication sees after ingest, made in minutes instead of ingest's hours here."""
    from archive_builder.process import tool_env

    archive = new_archive(root)
    committer = pipeline.committer_for(archive)
    env = {**tool_env(committer.identity), **committer.env}
    sources = sorted((seed / "datasets").glob("don-*"))
    superdataset = archive.layout.datasets
    modules, index = [], []
    for i in range(count):
        name = f"don-b{i:011d}"
        target = superdataset / name
        shutil.copytree(sources[i % len(sources)], target, symlinks=True)
        config = target / ".datalad" / "config"
        dsid = str(uuid.uuid4())
        lines = [
            f"\tid = {dsid}" if line.strip().startswith("id =") else line
            for line in config.read_text().splitlines()
        ]
        config.write_text("\n".join(lines) + "\n")
        subprocess.run(
            ["git", "-C", str(target), "commit", "-q", "-m", "bench replica", "--", str(config)],
            env=env,
            check=True,
        )
        head = subprocess.run(
            ["git", "-C", str(target), "rev-parse", "HEAD"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        modules.append(
            f'[submodule "{name}"]\n\tpath = {name}\n\turl = ./{name}\n\tdatalad-id = {dsid}\n'
        )
        index.append(f"160000 {head}\t{name}\n")
    with (superdataset / ".gitmodules").open("a") as handle:
        handle.write("".join(modules))

    def git(*args: str, stdin: str | None = None) -> None:
        subprocess.run(
            ["git", "-C", str(superdataset), *args], env=env, input=stdin, text=True, check=True
        )

    git("update-index", "--add", "--index-info", stdin="".join(index))
    git("add", ".gitmodules")
    git("commit", "-q", "-m", f"Register {count} bench replicas")
    return open_archive(root)


def bench_replicated_publication(
    work: Path, seeds: list[Path], n: int, old_sample: int
) -> list[tuple[str, str]]:
    seed = work / "seed"
    results = list(pipeline.ingest(new_archive(seed), seeds, jobs=1))
    assert all(r.status == "ok" for r in results if r.action == "ingest"), results
    rows = []
    for label, count, bulk in (
        ("DataLad path (initremote, push per dataset)", old_sample, False),
        ("bulk path (plain git and copies, 2 per core at once)", n, True),
    ):
        start = time.perf_counter()
        archive = replicate(seed, work / f"replicas-{count}", count)
        print(
            f"  {count} replicas in {time.perf_counter() - start:.0f} s; publication, {label}, "
            f"load {os.getloadavg()[0]:.1f}",
            file=sys.stderr,
        )
        names = [p.name for p in sorted(archive.layout.datasets.glob("don-*"))]
        seconds, pushed = timed(
            publish,
            archive.layout.datasets,
            names,
            archive.layout.store,
            archive.config.base_url,
            pipeline.committer_for(archive),
            bulk=bulk,
        )
        assert len(pushed) == count, (len(pushed), count)
        per = seconds / count
        shown = f"{seconds:.1f} s ({per:.2f} s each)"
        if count != n:
            shown += f", {per * n:.0f} s extrapolated to {n}"
        rows.append((f"first publication of {count} datasets, {label}", shown))
        print(f"  {rows[-1]}, load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    return rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_deploy(work: Path, root: Path, extra: Path) -> list[tuple[str, str]]:
    import boto3

    from archive_builder.deploy import deploy

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(SCRIPTS / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
        archive = open_archive(root)
        rows = []
        for label in ("first deploy", "deploy, nothing changed"):
            seconds, summary = timed(deploy, archive, "s3://bench/site", endpoint_url=endpoint)
            rows.append(
                (
                    label,
                    f"{seconds:.1f} s, {summary.uploaded} files "
                    f"({summary.uploaded_bytes / 1e6:.1f} MB) uploaded",
                )
            )
        results = list(pipeline.ingest(archive, [extra]))
        assert results[-1].status == "ok", results[-1]
        pipeline.build(open_archive(root))
        seconds, summary = timed(deploy, archive, "s3://bench/site", endpoint_url=endpoint)
        store_files = [p for p in summary.uploaded_paths if p.startswith("store/")]
        rows.append(
            (
                "deploy after one more donation",
                f"{seconds:.1f} s, {summary.uploaded} files uploaded ({len(store_files)} in the "
                f"store, {summary.uploaded - len(store_files)} pages and catalogs), "
                f"{summary.unchanged} unchanged",
            )
        )
        return rows
    finally:
        server.terminate()
        server.wait()


def large_package(folder: Path, files: int, donation_id: str) -> Path:
    """One study of ``files`` CR images (2D: no volume to deface) that share one 64x64
    frame. Every file's header is read, de-identified, verified and saved on its own;
    the pixel stage screens the shared frame for text once (it remembers what it
    screened), so the text detector's cost per distinct frame (about 0.1 s here, the
    same for every file) is left out of what this measures."""
    folder.mkdir(parents=True)
    template = dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    template.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    template.Modality = "CR"
    template.SOPClassUID = template.file_meta.MediaStorageSOPClassUID = CR_IMAGE_STORAGE
    template.Rows = template.Columns = 64
    template.BitsAllocated, template.BitsStored, template.HighBit = 16, 16, 15
    template.PixelData = os.urandom(64 * 64 * 2)
    template.StudyInstanceUID = generate_uid()
    template.SeriesInstanceUID = generate_uid()
    for n in range(files):
        template.SOPInstanceUID = generate_uid()
        template.file_meta.MediaStorageSOPInstanceUID = template.SOPInstanceUID
        template.InstanceNumber = n + 1
        template.save_as(folder / f"IMG{n:05d}.dcm", enforce_file_format=True)
    (folder / "donation.json").write_text(json.dumps({**RECORD, "donation_id": donation_id}))
    return folder


# One package is ingested in the process itself (no worker processes): its peak
# resident memory is the kernel's high-water mark of that process.
_INGEST = (
    "import resource, sys, time\n"
    "from archive_builder.cli import main\n"
    "start = time.perf_counter()\n"
    "try:\n"
    "    main(['ingest', '-q', sys.argv[1], sys.argv[2]])\n"
    "except SystemExit as exit:\n"
    "    assert not exit.code, exit.code\n"
    "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def large_study(work: Path, files: int) -> tuple[float, float]:
    """Ingest one study of ``files`` files with the CLI in a fresh process: seconds from
    the command's start to its end (imports left out), and the process's peak resident
    memory in MB (``getrusage``: what the kernel counted, not an estimate)."""
    package = large_package(work / f"large-{files}", files, f"bench-large-{files}")
    root = work / f"large-archive-{files}"
    new_archive(root)
    done = subprocess.run(
        [sys.executable, "-c", _INGEST, str(root), str(package)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"ingest of the {files}-file study failed:\n{done.stdout}{done.stderr}")
    seconds, peak = done.stdout.split()[-2:]
    shutil.rmtree(package)
    shutil.rmtree(root, ignore_errors=True)
    return float(seconds), int(peak) / 1024


def gitlinks(work: Path, count: int) -> list[tuple[str, str]]:
    """A superdataset's git costs with ``count`` registered donations (gitlinks and
    .gitmodules entries as DataLad writes them, made directly with git plumbing)."""
    from archive_builder.process import tool_env

    repo = work / f"super-{count}"
    repo.mkdir()
    env = tool_env(("Bench", "bench@example.org"))

    def git(*args: str, stdin: str | None = None) -> float:
        start = time.perf_counter()
        subprocess.run(
            ["git", *args],
            cwd=repo,
            env=env,
            input=stdin,
            text=True,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start

    git("init", "-q")
    sha = "1" * 40
    names = [f"don-{i:012d}" for i in range(count)]
    (repo / ".gitmodules").write_text(
        "".join(
            f'[submodule "{n}"]\n\tpath = {n}\n\turl = ./{n}\n'
            f"\tdatalad-id = {i:08d}-0000-0000-0000-000000000000\n"
            for i, n in enumerate(names)
        )
    )
    t_index = git(
        "update-index",
        "--add",
        "--index-info",
        stdin="".join(f"160000 {sha}\t{n}\n" for n in names),
    )
    git("add", ".gitmodules")
    t_commit = git("commit", "-q", "-m", "register")
    t_status = git("status", "--porcelain")
    t_lstree = git("ls-tree", "HEAD")
    t_config = git("config", "-f", ".gitmodules", "--get", f"submodule.{names[-1]}.path")
    # one more donation registered, as ingest's batch commit does it
    more = f"don-{count:012d}"
    with (repo / ".gitmodules").open("a") as handle:
        handle.write(f'[submodule "{more}"]\n\tpath = {more}\n\turl = ./{more}\n')
    t_one = git("update-index", "--add", "--cacheinfo", f"160000,{sha},{more}")
    t_one += git("add", ".gitmodules") + git("commit", "-q", "-m", "one more")
    size = (repo / ".git" / "index").stat().st_size + (repo / ".gitmodules").stat().st_size
    shutil.rmtree(repo)
    return [
        (
            f"superdataset with {count:,} donations: status / ls-tree / .gitmodules lookup / "
            "commit one more",
            f"{t_status:.2f} / {t_lstree:.2f} / {t_config:.2f} / {t_one:.2f} s "
            f"(index + .gitmodules {size / 1e6:.0f} MB; first commit {t_index + t_commit:.1f} s)",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--donations", type=int, default=1000)
    parser.add_argument("--studies", type=int, default=50)
    parser.add_argument("--study-files", type=int, default=200)
    parser.add_argument("--large", type=int, default=10000)
    parser.add_argument("--old-sample", type=int, default=50)
    parser.add_argument(
        "--publication-only",
        action="store_true",
        help="only the first publication, of replicas of --seeds ingested donations",
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["donations", "studies", "deploy", "large"],
        help="parts to leave out (donations: the one-file donations, their publication, "
        "build and deploy)",
    )
    parser.add_argument(
        "--gitlinks",
        nargs="*",
        type=int,
        default=None,
        help="only measure a superdataset's git costs at these sizes",
    )
    args = parser.parse_args()
    if args.gitlinks:
        work = Path(tempfile.mkdtemp(prefix="bench-gitlinks-"))
        try:
            rows = [row for count in args.gitlinks for row in gitlinks(work, count)]
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print("\n| measure | value |\n|---|---:|")
        for label, value in rows:
            print(f"| {label} | {value} |")
        return
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    load = os.getloadavg()[0]
    rows: list[tuple[str, str]] = []
    try:
        n = args.donations
        count = args.seeds if args.publication_only else n + 1 + args.old_sample
        if "donations" in args.skip and not args.publication_only:
            count = 0
        packages = [
            synthetic_study(work / "pkg" / f"d{i}", 1, f"bench-one-{i:06d}", size=64)
            for i in range(count)
        ]
        if args.publication_only:
            rows += bench_replicated_publication(work, packages[: args.seeds], n, args.old_sample)
            return report(load, rows)
        if "donations" not in args.skip:
            serial, cluster, root, (cpu_serial, cpu_cluster) = ingest_both(
                work, "one-file", packages[:n]
            )
            rows += [
                (
                    f"ingest {n} one-file donations, one process",
                    f"{serial:.1f} s ({n / serial:.2f}/s)",
                ),
                (
                    f"ingest {n} one-file donations, {where(n)}",
                    f"{cluster:.1f} s ({n / cluster:.2f}/s)",
                ),
                ("speed-up (target >= 1.8x)", f"{serial / cluster:.2f}x"),
                (
                    "CPU a donation, one process / LocalCluster (all processes)",
                    f"{cpu_serial / n:.2f} s / {cpu_cluster / n:.2f} s",
                ),
            ]
            opened = open_archive(root)
            rows += bench_publication(work, opened, packages[n + 1 :])
            seconds, _ = timed(pipeline.build, opened)
            rows.append(("the rest of the first build (pages, catalogs)", f"{seconds:.1f} s"))
            if "deploy" not in args.skip:
                rows += bench_deploy(work, root, packages[n])
        if "studies" not in args.skip:
            s, f = args.studies, args.study_files
            studies = [
                synthetic_study(work / "studies" / f"s{i}", f, f"bench-study-{i:05d}", size=64)
                for i in range(s)
            ]
            serial, cluster, _, _ = ingest_both(work, "studies", studies)
            rows += [
                (
                    f"ingest {s} studies of {f} files, one process",
                    f"{serial:.1f} s ({s * f / serial:.0f} files/s)",
                ),
                (
                    f"ingest {s} studies of {f} files, {where(s)}",
                    f"{cluster:.1f} s ({s * f / cluster:.0f} files/s)",
                ),
                ("speed-up (target >= 1.8x)", f"{serial / cluster:.2f}x"),
            ]
        if "large" not in args.skip:
            big = args.large
            t_small, m_small = large_study(work, big // 10)
            t_big, m_big = large_study(work, big)
            rows += [
                (f"ingest of one study of {big // 10} files", f"{t_small:.1f} s"),
                (f"ingest of one study of {big} files", f"{t_big:.1f} s"),
                ("time ratio (target <= 10x)", f"{t_big / t_small:.1f}x"),
                (f"peak memory, {big // 10} files", f"{m_small:.0f} MB"),
                (f"peak memory, {big} files (target < 500 MB)", f"{m_big:.0f} MB"),
            ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(load, rows)


def report(load: float, rows: list[tuple[str, str]]) -> None:
    print(
        f"\n{os.cpu_count()} cores, load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print("\n| measure | value |\n|---|---:|")
    for label, value in rows:
        print(f"| {label} | {value} |")


if __name__ == "__main__":
    main()
