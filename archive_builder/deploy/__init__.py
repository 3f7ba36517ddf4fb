"""Deploy: copy the built site (pages, catalogs and the DataLad store) to where it is served.

Only what changed since the last deploy is uploaded, known from the build's
``SHA256SUMS`` and the target's manifest of what it holds (nothing is
downloaded to compare). The order keeps every reader's view whole: new
objects first, then the other changed files with the pages last, then
deletions; an interrupted deploy is finished by the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..archive import Archive, locked
from ..sitefiles import SUMS
from .errors import DeployError
from .files import PENDING, plan, site_files
from .targets import open_target

Progress = Callable[[str, int, int], None]

__all__ = ["DeployError", "DeploySummary", "deploy"]


@dataclass(frozen=True)
class DeploySummary:
    target: str
    uploaded: int
    uploaded_bytes: int
    deleted: int
    unchanged: int
    uploaded_paths: list[str]
    deleted_paths: list[str]


def deploy(
    archive: Archive,
    url: str,
    *,
    endpoint_url: str | None = None,
    progress: Progress | None = None,
) -> DeploySummary:
    """Make ``url`` (``s3://bucket/prefix`` or a folder) hold exactly the built site."""
    layout = archive.layout
    target = open_target(url, endpoint_url)
    with locked(layout, "deploy"):
        site = layout.site.resolve()  # site/ may be a link to the current build
        if not (site / SUMS).is_file():
            raise DeployError(f"{layout.site} holds no built site; run `archive-builder build`.")
        target.check()
        files = site_files(site, target.follows_links)
        deployed = target.read_manifest()
        todo = plan(files, deployed)
        if todo.upload:
            # first say what may appear, so that a later run deletes it if this one dies
            target.write_manifest({**deployed, **{f.relpath: PENDING for f in todo.upload}})

            def step(done: int) -> None:
                if progress:
                    progress("deploy", done, len(todo.upload))

            target.upload(todo.upload, step)
        current = {f.relpath: f.digest for f in files}
        if todo.upload or todo.delete:
            # everything is up: the deletions are still listed until they succeed
            target.write_manifest({**{p: deployed[p] for p in todo.delete}, **current})
        if todo.delete:
            target.delete(todo.delete)
            target.write_manifest(current)
    return DeploySummary(
        target=target.name,
        uploaded=len(todo.upload),
        uploaded_bytes=todo.upload_bytes,
        deleted=len(todo.delete),
        unchanged=todo.unchanged,
        uploaded_paths=[f.relpath for f in todo.upload],
        deleted_paths=todo.delete,
    )
