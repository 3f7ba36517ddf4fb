"""Identifiers hidden outside the header's text never reach a published file or report.

Every case of ``pixel_cases`` goes through ``deid`` (one study per case, with one
clean instance beside it) and, all together, through ``ingest``; the published
files, reports and records are searched byte by byte for the hidden values.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import record, run_cli
from pixel_cases import (
    FAMILY,
    SECRET,
    STUDY_UID,
    cases,
    jpeg_with_payloads,
    leaks,
    sample,
    write_cases,
)
from pydicom.encaps import generate_frames

from archive_builder import keys
from archive_builder.archive import open_archive
from archive_builder.pixels.payloads import PayloadError, strip_j2k, strip_jpeg, strip_rle
from archive_builder.site.previews import render_preview

CASES = cases()
ORIGINALS = {
    "jpeg-com-app-trailing": "JPEG-LL.dcm",
    "jpeg-ls-com-app-trailing": "MR_small_jpeg_ls_lossless.dcm",
    "j2k-com-markers": "693_J2KR.dcm",
}


def _pixels(ds: pydicom.Dataset) -> np.ndarray:
    from pydicom.pixels import pixel_array

    syntax = ds.file_meta.TransferSyntaxUID
    plugin = "pylibjpeg" if syntax.name.startswith("JPEG 2000") else ""
    return pixel_array(ds, decoding_plugin=plugin)


CLEAN = 10  # series number of the clean instance beside each case


def _clean_instance(folder: Path) -> None:
    from pixel_cases import patient_instance

    ds = patient_instance(sample("CT_small.dcm"), CLEAN)
    ds.save_as(folder / "clean.dcm", enforce_file_format=True)


def _number(name: str) -> int:
    return int(CASES[name][0].SeriesNumber)


def _check_published(name: str, files: dict[str, Path], report: dict[str, object]) -> None:
    """What a user must see for case ``name`` among the published ``files`` (by keyed
    SOP Instance UID) and the study's report."""
    ds, expected = CASES[name]
    published = files.get(str(ds.SOPInstanceUID))
    excluded = report["instances"]["excluded"]  # type: ignore[index]
    if expected in ("stripped", "cleaned"):
        assert published is not None, f"{name}: not published"
        out = pydicom.dcmread(published)
        if expected == "stripped":  # the same image as the file before the payloads
            assert np.array_equal(_pixels(out), _pixels(sample(ORIGINALS[name]))), name
        else:
            assert "ICCProfile" not in out
    else:
        assert published is None, f"{name}: published"
        assert excluded, f"{name}: not reported"
    if expected == "excluded":
        reasons = {e["reason"] for e in excluded}  # type: ignore[index]
        assert any("pixel" in r for r in reasons), reasons
    if expected == "reported":
        assert {"modality": "other", "reason": next(iter(excluded))["reason"]} in excluded  # type: ignore[call-overload]


@pytest.mark.parametrize("name", sorted(CASES))
def test_deid_publishes_no_hidden_identifier(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "in"
    write_cases(folder, [name])
    _clean_instance(folder)
    key_file = tmp_path / "key"
    result = run_cli("deid", folder, tmp_path / "out", "--key-file", key_file, "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert not leaks(result.output.encode())
    key = bytes.fromhex(key_file.read_text().strip())
    files: dict[str, Path] = {}
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert leaks(path.read_bytes()) == [], f"{name}: {path.name}"
        if path.suffix == ".dcm":
            uid = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
            files[uid] = path
    by_original = {
        str(CASES[n][0].SOPInstanceUID): files.get(keys.uid(key, str(CASES[n][0].SOPInstanceUID)))
        for n in CASES
    }
    report_path = next((tmp_path / "out").rglob("deid-report.json"))
    report = json.loads(report_path.read_text())
    _check_published(name, {k: v for k, v in by_original.items() if v}, report)
    # the clean instance beside it is published, at the first free place
    assert keys.uid(key, f"{STUDY_UID}.{CLEAN}.1") in files


@pytest.mark.slow
def test_ingest_publishes_no_hidden_identifier(archive_dir: Path, tmp_path: Path) -> None:
    package = tmp_path / "package"
    write_cases(package)
    _clean_instance(package)
    (package / "donation.json").write_text(json.dumps(record()), encoding="utf-8")
    result = run_cli("ingest", archive_dir, package)
    assert result.exit_code == 0, result.output
    assert not leaks(result.output.encode())
    public_id = result.output.split("added as ")[1].split()[0]
    dataset = archive_dir / "datasets" / public_id
    files: dict[str, Path] = {}
    for path in sorted(dataset.rglob("*")):
        if ".git" in path.parts or not path.is_file():
            continue
        assert leaks(path.read_bytes()) == [], path.relative_to(dataset)
        if path.suffix == ".dcm":
            files[str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)] = path
    key = open_archive(archive_dir).key
    by_original = {
        str(ds.SOPInstanceUID): files.get(keys.uid(key, str(ds.SOPInstanceUID)))
        for ds, _ in CASES.values()
    }
    report = json.loads((dataset / "deid-report.json").read_text())
    for name in CASES:
        _check_published(name, {k: v for k, v in by_original.items() if v}, report)
    # published files are numbered without gaps, whatever was left out
    assert sorted(p.parent.name for p in files.values()) == [
        f"series-{n:03d}" for n in range(1, len(files) + 1)
    ]
    shutil.rmtree(package)
    result = run_cli("build", archive_dir)
    assert result.exit_code == 0, result.output
    for path in (archive_dir / "site").rglob("*"):
        if path.is_file() and "store" not in path.parts:
            assert leaks(path.read_bytes()) == [], path
    # each series' preview is drawn from the published file (the package is gone)
    previews = sorted((archive_dir / "site" / "datasets" / public_id).glob("preview-*.png"))
    assert len(previews) == len(files)
    for png in previews:
        published = dataset / png.stem.removeprefix("preview-") / "instance-0001.dcm"
        assert png.read_bytes() == render_preview(published)


def _frame(name: str) -> bytes:
    ds = sample(name)
    return next(generate_frames(ds.PixelData, number_of_frames=1))


def _decoded(name: str, frame: bytes) -> np.ndarray:
    ds = sample(name)
    ds.PixelData = frame + b"\x00" * (len(frame) % 2)
    from pydicom.encaps import encapsulate

    ds.PixelData = encapsulate([frame])
    plugin = "pylibjpeg" if ds.file_meta.TransferSyntaxUID.name.startswith("JPEG 2000") else ""
    from pydicom.pixels import pixel_array

    return pixel_array(ds, index=0, decoding_plugin=plugin)


@pytest.mark.parametrize(
    "name", ["JPEG-LL.dcm", "MR_small_jpeg_ls_lossless.dcm", "SC_rgb_jpeg_gdcm.dcm"]
)
def test_stripping_a_jpeg_frame_keeps_its_image(name: str) -> None:
    frame = _frame(name)
    hostile = jpeg_with_payloads(frame)
    stripped = strip_jpeg(hostile)
    assert FAMILY.encode() not in stripped and FAMILY.encode("utf-16-le") not in stripped
    assert np.array_equal(_decoded(name, stripped), _decoded(name, frame))
    assert strip_jpeg(stripped) == stripped


def test_stripping_a_j2k_codestream_keeps_its_image() -> None:
    from pixel_cases import j2k_with_payloads

    frame = _frame("693_J2KR.dcm")
    stripped = strip_j2k(j2k_with_payloads(frame))
    assert FAMILY.encode() not in stripped
    assert np.array_equal(_decoded("693_J2KR.dcm", stripped), _decoded("693_J2KR.dcm", frame))


@pytest.mark.parametrize(
    "damage",
    [b"", b"\xff\xd8", b"\xff\xd8\xff\xe1\x00\x40Exif", b"GIF89a", b"\xff\xd8\x00\x00\xff\xd9"],
)
def test_a_jpeg_frame_that_cannot_be_parsed_is_refused(damage: bytes) -> None:
    with pytest.raises(PayloadError):
        strip_jpeg(damage)


def test_an_rle_segment_with_bytes_beyond_its_image_is_refused() -> None:
    ds = sample("MR_small_RLE.dcm")
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    strip_rle(frame, ds.Rows, ds.Columns)
    with pytest.raises(PayloadError):
        strip_rle(frame + b"\x05" + FAMILY.encode() + b"\x00", ds.Rows, ds.Columns)


# -- free bytes inside the segments a decoder needs (red-team review) -------------------------
# Each frame is published in canonical form: only the segments a decoder needs, each
# written from its parsed fields, holding only what the image uses.

SECRET_BYTES = SECRET.encode()


def _compressed(name: str) -> pydicom.Dataset:
    """A compressed file of pydicom's test data as a CT instance of the patient's study."""
    from pixel_cases import patient_instance

    ds = patient_instance(sample(name), 20, Modality="CT")
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    return ds


def _one_frame(ds: pydicom.Dataset) -> bytes:
    frames = list(generate_frames(ds.PixelData, number_of_frames=1))
    assert len(frames) == 1
    return frames[0]


def _deid(ds: pydicom.Dataset, tmp_path: Path) -> list[Path]:
    """Run ``archive-builder deid`` on a folder holding ``ds``; the files it writes."""
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    ds.save_as(source / "image.dcm", enforce_file_format=True)
    result = run_cli("deid", source, out, "--key-file", tmp_path / "deid.key")
    assert result.exit_code == 0, result.output
    assert "ok" in result.output, result.output  # published, not excluded or refused
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".dcm" for p in files)
    return files


def _assert_unpublished(files: list[Path], needle: bytes) -> None:
    found = [p.name for p in files if needle in p.read_bytes()]
    assert not found, f"{needle!r} published in {found}"


def test_text_in_the_unused_offsets_of_an_rle_header_is_not_published(tmp_path: Path) -> None:
    import struct

    from pydicom.encaps import encapsulate

    ds = _compressed("MR_small_RLE.dcm")
    frame = _one_frame(ds)
    count = struct.unpack("<L", frame[:4])[0]
    unused = 4 * (15 - count)  # PS3.5 G.5: the offsets of absent segments are 0
    assert len(SECRET_BYTES) <= unused
    ds.PixelData = encapsulate([frame[: 4 + 4 * count] + SECRET_BYTES.ljust(unused) + frame[64:]])
    _assert_unpublished(_deid(ds, tmp_path), SECRET_BYTES)


def _unused_table(kind: str) -> bytes:
    """A JPEG table segment defining table 3, which no component uses: decoders accept it."""
    import struct

    if kind == "DQT":  # 8-bit quantization table: 64 arbitrary values
        return b"\xff\xdb" + struct.pack(">H", 67) + b"\x03" + SECRET_BYTES.ljust(64, b"!")
    counts = bytes([0, 0, 0, 0, len(SECRET_BYTES), *[0] * 11])  # AC Huffman table: any symbols
    return b"\xff\xc4" + struct.pack(">H", 19 + len(SECRET_BYTES)) + b"\x13" + counts + SECRET_BYTES


@pytest.mark.parametrize("kind", ["DQT", "DHT"])
@pytest.mark.parametrize("name", ["SC_rgb_jpeg_dcmtk.dcm", "JPEG-LL.dcm"])
def test_text_in_an_unused_jpeg_table_is_not_published(
    tmp_path: Path, name: str, kind: str
) -> None:
    from pydicom.encaps import encapsulate

    ds = _compressed(name)
    frame = _one_frame(ds)
    ds.PixelData = encapsulate([frame[:2] + _unused_table(kind) + frame[2:]])
    _assert_unpublished(_deid(ds, tmp_path), SECRET_BYTES)


@pytest.mark.parametrize("name", ["SC_rgb_jpeg_dcmtk.dcm", "JPEG-LL.dcm"])
def test_text_after_the_last_scan_before_end_of_image_is_not_published(
    tmp_path: Path, name: str
) -> None:
    from pydicom.encaps import encapsulate

    ds = _compressed(name)
    frame = _one_frame(ds)
    end = frame.rindex(b"\xff\xd9")
    # libjpeg warns "extraneous bytes before marker 0xd9" and decodes the image
    ds.PixelData = encapsulate([frame[:end] + SECRET_BYTES + frame[end:]])
    _assert_unpublished(_deid(ds, tmp_path), SECRET_BYTES)
