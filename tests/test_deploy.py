"""`archive-builder deploy` to a real S3 server on 127.0.0.1 (moto's standalone server, in
its own process), then `datalad clone` and `get` over plain HTTP from that server, as a
researcher would; an incremental deploy, a withdrawal, and the bad inputs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import record, run_cli, sample
from test_store import datalad, free_port, researcher_env

from archive_builder.demo import study_files

boto3 = pytest.importorskip("boto3")
SCRIPTS = Path(sysconfig.get_path("scripts"))
PUBLIC_READ = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::archive/*",
            }
        ],
    }
)
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _moto(port: int, **env: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(SCRIPTS / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("moto_server did not start")


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    port = free_port()
    process = _moto(port)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


def _s3(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_keys())


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _package(base: Path, name: str, files: list[Path]) -> Path:
    folder = base / name
    folder.mkdir(parents=True)
    (folder / "donation.json").write_text(json.dumps(record(donation_id=name)), encoding="utf-8")
    for index, path in enumerate(files):
        shutil.copy(path, folder / f"{index}.dcm")
    return folder


def _site_digests(site: Path) -> dict[str, str]:
    """Every file a bucket gets, as S3 sees it: aliases as copies of their git files."""
    digests = {}
    for path in sorted(site.rglob("*")):
        rel = path.relative_to(site).as_posix()
        if path.is_symlink() and path.is_dir():
            for inner in sorted(path.resolve().rglob("*")):
                inside = inner.relative_to(path.resolve()).as_posix()
                if inner.is_file() and not inside.startswith("annex/"):
                    digests[f"{rel}/{inside}"] = hashlib.sha256(inner.read_bytes()).hexdigest()
        elif path.is_file() and "/alias/" not in f"/{rel}":
            digests[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def _objects(s3, bucket: str, prefix: str) -> set[str]:  # type: ignore[no-untyped-def]
    keys = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.update(item["Key"][len(prefix) :] for item in page.get("Contents", []))
    return keys


@pytest.mark.slow
def test_deploy_clone_change_and_withdraw(tmp_path: Path, s3_server: str, aws_env: None) -> None:
    s3 = _s3(s3_server)
    s3.create_bucket(Bucket="archive")
    s3.put_bucket_policy(Bucket="archive", Policy=PUBLIC_READ)  # as docs/scaling.md says
    base_url = f"{s3_server}/archive/site/"  # the bucket, path-style, as the public URL
    root = tmp_path / "archive"
    assert run_cli("init", root, "--base-url", base_url).exit_code == 0
    packages = [
        _package(tmp_path, "deploy-0001", [sample("CT_small.dcm")]),
        _package(tmp_path, "deploy-0002", study_files(sample("dicomdirtests/77654033/CT2/17106"))),
    ]
    result = run_cli("ingest", root, *packages)
    assert result.exit_code == 0, result.output
    first, second = (
        line.split("added as ")[1].split()[0]
        for line in result.output.splitlines()
        if "added as " in line
    )
    assert run_cli("build", root).exit_code == 0

    result = run_cli("deploy", root, "s3://archive/site", "--endpoint-url", s3_server)
    assert result.exit_code == 0, result.output
    deployed = _objects(s3, "archive", "site/")
    assert set(_site_digests(root / "site")) <= deployed
    page = s3.head_object(Bucket="archive", Key="site/index.html")
    assert page["ContentType"] == "text/html; charset=utf-8"
    assert page["CacheControl"] == "public, max-age=300"
    annexed = next(k for k in deployed if "/annex/objects/" in k and k.endswith(".dcm"))
    blob = s3.head_object(Bucket="archive", Key=f"site/{annexed}")
    assert blob["ContentType"] == "application/dicom"
    assert "immutable" in blob["CacheControl"]
    catalog = s3.head_object(Bucket="archive", Key="site/catalog/donations.parquet")
    assert catalog["ContentType"] == "application/vnd.apache.parquet"

    # a researcher clones from the bucket over plain HTTP and gets one file
    env = researcher_env(tmp_path / "home")
    store = f"ria+{base_url}store"
    datalad(env, "clone", f"{store}#~archive", "clone", cwd=tmp_path)
    clone = tmp_path / "clone"
    datalad(env, "get", "-n", first, cwd=clone)
    datalad(env, "get", f"{first}/series-001/instance-0001.dcm", cwd=clone)
    got = (clone / first / "series-001" / "instance-0001.dcm").read_bytes()
    assert got == (root / "datasets" / first / "series-001" / "instance-0001.dcm").read_bytes()

    # nothing changed: nothing is uploaded
    result = run_cli("deploy", root, "s3://archive/site", "--endpoint-url", s3_server)
    assert " 0 files uploaded" in result.output, result.output

    # one more donation: exactly the files whose bytes are new or changed are uploaded
    before = _site_digests(root / "site")
    third = run_cli("ingest", root, _package(tmp_path, "deploy-0003", [sample("MR_small.dcm")]))
    assert run_cli("build", root).exit_code == 0
    after = _site_digests(root / "site")
    changed = {p for p, d in after.items() if before.get(p) != d}
    from archive_builder.archive import open_archive
    from archive_builder.deploy import deploy

    summary = deploy(open_archive(root), "s3://archive/site", endpoint_url=s3_server)
    assert set(summary.uploaded_paths) == changed
    assert not any(first in p or second in p for p in summary.uploaded_paths if "store/" in p)
    # what the build dropped is deleted, and nothing else: the search index's superseded
    # content-named shards at most (their names depend on the index's content)
    assert set(summary.deleted_paths) == set(before) - set(after), third.output
    assert all(p.startswith("pagefind/") for p in summary.deleted_paths), summary.deleted_paths

    # withdraw the first: its objects leave the bucket, and a fresh clone cannot get it
    result = run_cli("withdraw", root, "deploy-0001")
    assert result.exit_code == 0, result.output
    removed = set(after) - set(_site_digests(root / "site"))
    summary = deploy(open_archive(root), "s3://archive/site", endpoint_url=s3_server)
    assert set(summary.deleted_paths) == removed
    assert any("/annex/objects/" in p for p in removed)
    assert not (_objects(s3, "archive", "site/") & removed)
    assert f"site/store/alias/{first}/config" not in _objects(s3, "archive", "")
    datalad(env, "clone", f"{store}#~archive", "fresh", cwd=tmp_path)
    fresh = tmp_path / "fresh"
    failed = datalad(env, "get", "-n", first, cwd=fresh, check=False)
    assert failed.returncode != 0
    old = datalad(env, "get", f"{first}/series-001/instance-0001.dcm", cwd=clone, check=False)
    datalad(env, "drop", "--reckless", "kill", f"{first}/series-001/instance-0001.dcm", cwd=clone)
    again = datalad(env, "get", f"{first}/series-001/instance-0001.dcm", cwd=clone, check=False)
    assert again.returncode != 0, old.stdout + again.stdout


def test_a_missing_bucket_is_one_clear_message(
    archive_dir: Path, s3_server: str, aws_env: None
) -> None:
    _built(archive_dir)
    result = run_cli("deploy", archive_dir, "s3://no-such-bucket/x", "--endpoint-url", s3_server)
    assert result.exit_code == 2
    assert result.output.startswith("error: the bucket 'no-such-bucket' does not exist")
    assert "Traceback" not in result.output


def test_wrong_credentials_are_one_clear_message(archive_dir: Path, aws_env: None) -> None:
    port = free_port()
    process = _moto(port, INITIAL_NO_AUTH_ACTION_COUNT="0")  # this server checks credentials
    try:
        _built(archive_dir)
        endpoint = f"http://127.0.0.1:{port}"
        result = run_cli("deploy", archive_dir, "s3://archive/site", "--endpoint-url", endpoint)
    finally:
        process.terminate()
        process.wait()
    assert result.exit_code == 2
    assert "refused these credentials" in result.output, result.output
    assert "AWS_ACCESS_KEY_ID" in result.output


def test_a_full_target_fails_clearly_and_the_next_deploy_finishes(
    archive_dir: Path, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root (CI runs as root)")
    _built(archive_dir)
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        result = run_cli("deploy", archive_dir, mount / "www")
        assert result.exit_code == 2
        assert "is full" in result.output and "deploy again" in result.output, result.output
        assert "Traceback" not in result.output
        subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)
        result = run_cli("deploy", archive_dir, mount / "www")
        assert result.exit_code == 0, result.output
        site = archive_dir / "site"
        for path in site.rglob("*"):
            rel = path.relative_to(site)
            if path.is_file() and not path.is_symlink():
                assert (mount / "www" / rel).read_bytes() == path.read_bytes(), rel
        assert not list((mount / "www").rglob(".tmp-*"))
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def _built(root: Path) -> None:
    result = run_cli("build", root)
    assert result.exit_code == 0, result.output
