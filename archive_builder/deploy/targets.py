"""Where a site is deployed: an S3-compatible bucket, or a folder (a mounted path).

Each target reads and writes the deploy manifest, uploads files with their
media type and cache header, and deletes files, failing loudly when a
deletion fails. Credentials come from the usual AWS environment variables or
profile and are never stored.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .errors import DeployError
from .files import MANIFEST, SiteFile

Progress = Callable[[int], None]  # called with the number of files done so far
_FULL_CODES = {"QuotaExceeded", "XMinioStorageFull", "StorageFull", "InsufficientStorage"}
_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "403",
    "InvalidToken",
    "ExpiredToken",
}


class FolderTarget:
    """A folder (a local disk or a mounted path); symlinks are kept as symlinks."""

    follows_links = False

    def __init__(self, root: Path):
        self.root = root
        self.name = str(root)

    def check(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise DeployError(
                f"{self.root} exists and is not a folder; give a folder to deploy to."
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _os_error(self.name, exc) from None

    def read_manifest(self) -> dict[str, str]:
        path = self.root / MANIFEST
        return _parse_manifest(path.read_bytes(), self.name) if path.is_file() else {}

    def write_manifest(self, manifest: dict[str, str]) -> None:
        self._write(MANIFEST, _dump_manifest(manifest))

    def _write(self, relpath: str, data: bytes | Path) -> None:
        target = self.root / relpath
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
            with os.fdopen(fd, "wb") as handle:
                if isinstance(data, Path):
                    with data.open("rb") as source:
                        shutil.copyfileobj(source, handle, 1024 * 1024)
                else:
                    handle.write(data)
            Path(name).chmod(0o644)
            Path(name).replace(target)  # readers see the old file or the new one
        except OSError as exc:
            Path(locals().get("name", target)).unlink(missing_ok=True)
            raise _os_error(self.name, exc) from None

    def upload(self, files: list[SiteFile], progress: Progress) -> None:
        for done, item in enumerate(files, start=1):
            if item.link is not None:
                target = self.root / item.relpath
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_symlink() or target.exists():
                    target.unlink()
                target.symlink_to(item.link)
            else:
                self._write(item.relpath, item.source)
            progress(done)

    def delete(self, relpaths: list[str]) -> None:
        failed = []
        for relpath in relpaths:
            target = self.root / relpath
            try:
                target.unlink(missing_ok=True)
            except OSError as exc:
                failed.append(f"{relpath} ({exc.strerror})")
                continue
            _remove_empty_parents(target.parent, self.root)
        if failed:
            raise DeployError(
                f"{len(failed)} file(s) could not be deleted from {self.name}: "
                + "; ".join(failed[:5])
                + "; they are still served. Fix the permissions and deploy again."
            )


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _os_error(name: str, exc: OSError) -> DeployError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DeployError(
            f"{name} is full ({exc.strerror}); nothing already deployed was removed. Free "
            "space and deploy again: the next run finishes the upload."
        )
    return DeployError(f"cannot write to {name}: {exc.strerror or exc}; check the path.")


def _dump_manifest(manifest: dict[str, str]) -> bytes:
    return gzip.compress(json.dumps(manifest, sort_keys=True).encode(), mtime=0)


def _parse_manifest(data: bytes, name: str) -> dict[str, str]:
    try:
        manifest = json.loads(gzip.decompress(data))
    except (ValueError, OSError, EOFError):
        manifest = None
    if not isinstance(manifest, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in manifest.items()
    ):
        raise DeployError(
            f"{name}/{MANIFEST} is not a deploy manifest; delete it to upload everything again."
        )
    return manifest


class S3Target:
    """``s3://bucket/prefix`` on AWS or any S3-compatible server (``endpoint_url``)."""

    follows_links = True

    def __init__(self, url: str, endpoint_url: str | None = None):
        parsed = urlparse(url)
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.name = url.rstrip("/")
        self.endpoint_url = endpoint_url
        if not self.bucket:
            raise DeployError(f"{url}: give the bucket as s3://BUCKET or s3://BUCKET/PREFIX.")
        self._client: Any = None

    def _key(self, relpath: str) -> str:
        return f"{self.prefix}/{relpath}" if self.prefix else relpath

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self.endpoint_url,
                config=Config(
                    retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32
                ),
            )
        return self._client

    def _explain(self, exc: Exception) -> DeployError:
        from botocore.exceptions import (
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        where = f"{self.name}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return DeployError(
                f"no AWS credentials for {where}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (they are never stored)."
            )
        if isinstance(exc, EndpointConnectionError):
            return DeployError(f"cannot reach {where}; check --endpoint-url and the network.")
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchBucket", "404"):
                return DeployError(
                    f"the bucket {self.bucket!r} does not exist ({where}); create it, or "
                    "check the name in the URL."
                )
            if code in _CREDENTIAL_CODES:
                return DeployError(
                    f"{where} refused these credentials ({code}): check AWS_ACCESS_KEY_ID, "
                    "AWS_SECRET_ACCESS_KEY or AWS_PROFILE, and that they may write to the bucket."
                )
            if code in _FULL_CODES:
                return DeployError(
                    f"the bucket {self.bucket!r} is full ({code}); nothing already deployed was "
                    "removed. Raise its quota and deploy again: the next run finishes the upload."
                )
            return DeployError(f"{where} answered {code}: {exc}")
        return DeployError(f"{where}: {exc}")

    def _call(self, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise self._explain(exc) from None

    def check(self) -> None:
        self._call("head_bucket", Bucket=self.bucket)

    def read_manifest(self) -> dict[str, str]:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(MANIFEST))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("NoSuchKey", "404"):
                return {}
            raise self._explain(exc) from None
        return _parse_manifest(answer["Body"].read(), self.name)

    def write_manifest(self, manifest: dict[str, str]) -> None:
        self._call(
            "put_object",
            Bucket=self.bucket,
            Key=self._key(MANIFEST),
            Body=_dump_manifest(manifest),
            ContentType="application/gzip",
            CacheControl="no-store",
        )

    def upload(self, files: list[SiteFile], progress: Progress) -> None:
        """Many files at once through boto3's transfer manager (large ones in parts)."""
        from boto3.s3.transfer import TransferConfig, create_transfer_manager
        from botocore.exceptions import BotoCoreError, ClientError

        config = TransferConfig(max_concurrency=16)
        done = 0
        with create_transfer_manager(self.client, config) as manager:
            for start in range(0, len(files), 1000):  # bounded number of futures at once
                futures = [
                    manager.upload(
                        str(item.source),
                        self.bucket,
                        self._key(item.relpath),
                        extra_args={
                            "ContentType": item.content_type,
                            "CacheControl": item.cache_control,
                        },
                    )
                    for item in files[start : start + 1000]
                ]
                for future in futures:
                    try:
                        future.result()
                    except (BotoCoreError, ClientError) as exc:
                        raise self._explain(exc) from None
                    done += 1
                    progress(done)

    def delete(self, relpaths: list[str]) -> None:
        failed: list[str] = []
        for start in range(0, len(relpaths), 1000):
            chunk = relpaths[start : start + 1000]
            answer = self._call(
                "delete_objects",
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._key(r)} for r in chunk], "Quiet": True},
            )
            failed.extend(f"{e['Key']} ({e.get('Code')})" for e in answer.get("Errors", []))
        if failed:
            raise DeployError(
                f"{len(failed)} object(s) could not be deleted from {self.name}: "
                + "; ".join(failed[:5])
                + "; they are still served. Check the credentials' delete permission and "
                "deploy again."
            )


def open_target(url: str, endpoint_url: str | None = None) -> FolderTarget | S3Target:
    if url.startswith("s3://"):
        return S3Target(url, endpoint_url)
    if "://" in url:
        raise DeployError(f"{url}: deploy to s3://BUCKET/PREFIX or to a folder path.")
    if endpoint_url:
        raise DeployError("--endpoint-url is for s3:// targets only.")
    return FolderTarget(Path(url).expanduser())


def relpaths(files: Iterable[SiteFile]) -> list[str]:
    return [f.relpath for f in files]
