"""Bulk publication: donation datasets written into the local store with plain git and copies.

Real DataLad, git-annex and git; a real HTTP server on 127.0.0.1; `datalad clone` and
`datalad get` as a researcher runs them. A build killed halfway through publishing
leaves nothing a clone can take for published, and the next build finishes it.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from conftest import record, run_cli, sample
from test_store import SCRIPTS, QuietHandler, datalad, free_port, registered, researcher_env

from archive_builder.faults import VARIABLE
from archive_builder.process import tool_env
from archive_builder.store.bulk import annexed_keys, hashdirlower
from archive_builder.store.publish import SUPER_ALIAS, bare_repository, refs

pytestmark = pytest.mark.slow


def _packages(base: Path, count: int) -> list[Path]:
    packages = []
    for n in range(count):
        folder = base / f"pkg{n}"
        folder.mkdir()
        (folder / "donation.json").write_text(json.dumps(record(donation_id=f"bulk-test-{n:04d}")))
        shutil.copy(sample("CT_small.dcm"), folder / "0.dcm")
        packages.append(folder)
    return packages


def _build_killed_at(root: Path, point: str) -> None:
    env = {**os.environ, VARIABLE: point}
    command = [str(SCRIPTS / "archive-builder"), "build", str(root)]
    result = subprocess.run(command, env=env, capture_output=True)
    assert result.returncode == -9, result.stdout + result.stderr  # it died there


def test_hashdirlower_is_git_annex_s() -> None:
    # the location log of a key, as git-annex names it in its branch (read from a real one)
    key = "SHA256E-s5000--c59d3c0480cc2d71d8f646e735e92da65450311eec46e81a5db8c7e6e8a92054.dcm"
    assert hashdirlower(key) == "9c3/d6d/"


@pytest.mark.parametrize("point", ["publish.sibling", "publish.recorded", "publish.pushed"])
def test_a_killed_bulk_publication_is_finished_then_cloned_over_http(
    tmp_path: Path, point: str
) -> None:
    port = free_port()
    root = tmp_path / "archive"
    result = run_cli("init", root, "--name", "Bulk", "--base-url", f"http://127.0.0.1:{port}/")
    assert result.exit_code == 0, result.output
    result = run_cli("ingest", root, *_packages(tmp_path, 3))
    assert result.exit_code == 0, result.output
    ids = registered(root)
    assert len(ids) == 3

    _build_killed_at(root, point)
    store = root / "site" / "store"
    # nothing a clone could take for published: no superdataset, no alias, no refs a web
    # server serves (killed after its push, a repository has refs but no info/refs yet)
    assert not (store / "alias" / SUPER_ALIAS).exists()
    for public_id in ids:
        bare = bare_repository(store, root / "datasets" / public_id)
        assert not (store / "alias" / public_id).exists()
        if point != "publish.pushed":
            assert not refs(bare) if bare.is_dir() else True
        assert not (bare / "info" / "refs").exists()
    if point == "publish.pushed":
        assert any(refs(bare_repository(store, root / "datasets" / i)) for i in ids)

    result = run_cli("build", root)
    assert result.exit_code == 0, result.output
    for public_id in ids:
        dataset = root / "datasets" / public_id
        bare = bare_repository(store, dataset)
        assert refs(bare) == refs(dataset)
        # published by the bulk path: the ora special remote never ran for it (it leaves
        # its transfer folder in the repository), yet git-annex knows where the files are
        assert not list(bare.glob("ora-remote-*"))
        where = subprocess.run(
            ["git", "-C", str(dataset), "annex", "whereis", "--in", "store-storage"],
            capture_output=True,
            text=True,
            check=True,
            env=tool_env(),
        ).stdout
        assert "series-001/instance-0001.dcm" in where
        for key in annexed_keys(dataset):
            assert list(bare.glob(f"annex/objects/*/*/{key}/{key}"))
    assert run_cli("verify", root).exit_code == 0  # which checks every file in the store

    handler = functools.partial(QuietHandler, directory=str(root / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = researcher_env(tmp_path / "home")
        clone = tmp_path / "clone"
        url = f"ria+http://127.0.0.1:{port}/store"
        datalad(env, "clone", f"{url}#~archive", str(clone), cwd=tmp_path)
        for public_id in ids:
            name = f"{public_id}/series-001/instance-0001.dcm"
            datalad(env, "get", name, cwd=clone)
            assert (clone / name).read_bytes() == (root / "datasets" / name).read_bytes()
    finally:
        server.shutdown()
        server.server_close()
