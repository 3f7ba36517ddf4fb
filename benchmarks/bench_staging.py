"""Staging benchmark: a build's twin of the live site beside a store of many datasets.

    .venv/bin/python benchmarks/bench_staging.py [--datasets 10000]

A build stages ``site.next/``, a hard-linked twin of ``site/``, the DataLad
store included. The site benchmark has no store; a real archive of 10,000
donations has a RIA store of 10,001 repositories of about 30 folders each.
This writes such a store (the folder and file counts of a published one-file
donation: objects, refs, annex; file contents are placeholders), makes the
twin once, publishes "one more donation" (a new repository, and the
superdataset's new objects and refs), then stages it both ways in the same
run: the baseline compares the whole tree (what every build did before), the
scoped stage compares only the folders the publication changed (what a build
does when the last build finished). Both must leave the same twin.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive_builder.sitefiles import mirror, stage, staging_folder
from archive_builder.store.publish import changed_paths

FOLDERS = ["annex/objects", "archives", "branches", "hooks", "info", "objects/info"]
FOLDERS += ["objects/pack", "refs/heads", "refs/tags"]
FILES = ["HEAD", "config", "description", "info/refs", "objects/info/packs"]
FILES += ["refs/heads/main", "refs/heads/git-annex", "ria-remote-ora"]


def repository(store: Path, number: int, objects: int = 20) -> str:
    """A bare repository with ``objects`` loose objects in as many folders; its id."""
    dsid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"dataset-{number}"))
    top = store / dsid[:3] / dsid[3:]
    for folder in FOLDERS:
        (top / folder).mkdir(parents=True, exist_ok=True)
    for name in FILES:
        (top / name).write_text(name)
    for index in range(objects):
        loose = top / "objects" / f"{(number + index) % 256:02x}"
        loose.mkdir(exist_ok=True)
        (loose / f"{number:08x}{index:030x}").write_text("x")
    alias = store / "alias" / f"don-{number:06d}"
    alias.symlink_to(f"../{dsid[:3]}/{dsid[3:]}")
    return dsid


def tree(top: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for folder, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, top)
            if os.path.islink(path):
                found[rel] = os.readlink(path)
            else:
                found[rel] = "folder" if name in dirs else os.lstat(path).st_ino
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=10_000)
    n = parser.parse_args().datasets
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        store = site / "store"
        (store / "alias").mkdir(parents=True)
        (store / "ria-layout-version").write_text("1\n")
        (store / "error_logs").mkdir()
        print(f"writing a store of {n} repositories...", file=sys.stderr, flush=True)
        superdataset = repository(store, 0, objects=200)
        for number in range(1, n):
            repository(store, number)
        start = time.perf_counter()
        stage(site)
        first = time.perf_counter() - start
        twin = staging_folder(site)
        before = Path(tmp) / "before"
        mirror(twin, before)  # the twin as the last build left it, for the second way
        # One more donation: its repository, and the superdataset's new commit.
        new = repository(store, n)
        top = store / superdataset[:3] / superdataset[3:]
        (top / "objects" / "ff").mkdir(exist_ok=True)
        (top / "objects" / "ff" / "new-commit").write_text("x")
        (top / "refs" / "heads" / "main.new").write_text("y")
        (top / "refs" / "heads" / "main.new").replace(top / "refs" / "heads" / "main")
        folders = sum(1 for _ in os.walk(site))
        start = time.perf_counter()
        stage(site)
        whole = time.perf_counter() - start
        expected = tree(twin)
        twin.rename(Path(tmp) / "whole")
        before.rename(twin)
        # The datasets a publication pushed: this benchmark has no DataLad datasets,
        # so the pushed repositories' prefixes are named as changed_paths names them.
        start = time.perf_counter()
        paths = [f"store/{p}" for p in changed_paths(store, twin / "store", [])]
        paths.append(f"store/{superdataset[:3]}")
        stage(site, paths)
        scoped = time.perf_counter() - start
        got = tree(twin)
        diff = {k for k in got.keys() | expected.keys() if got.get(k) != expected.get(k)}
        assert not diff, f"the scoped stage left another twin: {sorted(diff)[:10]}"
        assert f"store/{new[:3]}" in paths
    rows = [
        (f"first twin of {n} repositories ({folders:,} folders)", f"{first:.2f} s"),
        ("stage after one more donation, whole tree compared (baseline)", f"{whole:.2f} s"),
        (f"stage after one more donation, {len(paths)} changed paths", f"{scoped:.3f} s"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | time |")
    print(f"|{'-' * (width + 2)}|---:|")
    for label, value in rows:
        print(f"| {label:<{width}} | {value} |")


if __name__ == "__main__":
    main()
