"""What is de-identified is the header whose identifying values were collected.

Intake keeps each file's header as the bytes it was read from, and both
collection and de-identification parse those bytes: a file changed on disk in
between (its size and modification time kept, which the ``deid`` command's
stamp check cannot see) must not have its new values published, since nobody
searched for them. Each test writes an ID that was never collected (letters
then digits, which the engine keeps as a technical token unless it is an
identifying value of the study) into Convolution Kernel, allow-listed
technical text, after intake: a version that read the header from the file
again publishes it (checked by making ``Instance.dataset`` and ``run_batch``
read the file).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import record, sample
from pydicom import dcmread

from archive_builder.config import Limits
from archive_builder.deid import Donor, deidentify_study
from archive_builder.deid.batches import Batch, run_batch
from archive_builder.deid.folder import group, survey
from archive_builder.deid.study import plan
from archive_builder.intake import open_package

KEY = bytes(range(7, 39))
DONOR = Donor(key=KEY, public_id="don-samebytesxmp", date_offset_days=-400, patient_age="060Y")
KEPT, NEW = b"STANDARD", b"PX7731  "  # an ID never collected, as long as what it replaces
CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"


def _study(folder: Path, files: int = 3) -> list[Path]:
    """One study of ``files`` CR images (one shared frame), with a donation record."""
    folder.mkdir(parents=True)
    ds = dcmread(sample("CT_small.dcm"))
    ds.Modality = "CR"
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CR_IMAGE
    ds.Rows = ds.Columns = 64
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelData = bytes(range(256)) * 32
    paths = []
    for n in range(files):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = (
            f"1.2.826.0.1.3680043.10.91.{n}"
        )
        ds.InstanceNumber = n + 1
        paths.append(folder / f"IMG{n}.dcm")
        ds.save_as(paths[-1], enforce_file_format=True)
    return paths


def _change_unseen(path: Path) -> None:
    """Write the new name into the file in place: same length, so the pixel data stays
    where it was, and the same size and modification time."""
    data = path.read_bytes()
    assert data.count(KEPT) == 1
    status = path.stat()
    path.write_bytes(data.replace(KEPT, NEW))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def _outputs(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.dcm"))}


def _ingest(package: Path, out: Path, change: bool) -> dict[str, bytes]:
    """Open the package as ingest does (headers read), change its files on disk if asked,
    then de-identify it."""
    (package / "donation.json").write_text(json.dumps(record()), encoding="utf-8")
    with open_package(package, Limits(), package.parent / "scratch") as opened:
        if change:
            for instance in opened.instances:
                _change_unseen(instance.path)
        deidentify_study(opened.instances, DONOR, out)
    return _outputs(out)


def test_ingest_deidentifies_the_bytes_its_identifiers_were_collected_from(
    tmp_path: Path,
) -> None:
    control = _study(tmp_path / "control")
    changed = _study(tmp_path / "changed")
    assert [p.read_bytes() for p in control] == [p.read_bytes() for p in changed]
    expected = _ingest(tmp_path / "control", tmp_path / "out-control", change=False)
    assert expected and all(KEPT in data for data in expected.values())  # kept as written
    published = _ingest(tmp_path / "changed", tmp_path / "out-changed", change=True)
    assert all(NEW in p.read_bytes() for p in changed)
    assert not any(NEW in data for data in published.values())
    assert published == expected


def test_deid_deidentifies_the_bytes_its_identifiers_were_collected_from(
    tmp_path: Path,
) -> None:
    outputs = {}
    for name, change in (("control", False), ("changed", True)):
        paths = _study(tmp_path / name)
        instances, found, stamps, skipped = survey(paths[0].parent, KEY)
        assert not skipped and len(instances) == len(paths)
        if change:
            for path in paths:
                _change_unseen(path)
        [(donor, _, sources, identifiers)] = group(KEY, instances, found)
        layout, _ = plan(sources)
        items = []
        for source, relpath in layout:
            assert source.header_bytes is not None
            items.append((source.path, relpath, source.header_bytes, stamps[source.path]))
        staging = tmp_path / f"out-{name}"
        result = run_batch(Batch(items, staging, donor, identifiers))
        assert result.error is None and not result.problems  # the stamp saw no change
        outputs[name] = _outputs(staging)
    assert outputs["control"] and all(KEPT in data for data in outputs["control"].values())
    assert not any(NEW in data for data in outputs["changed"].values())
    assert outputs["changed"] == outputs["control"]
