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
from archive_builder.pixels.jpeg import strip_jpeg
from archive_builder.pixels.payloads import PayloadError, strip_j2k, strip_rle
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


def _segment(marker: int, payload: bytes) -> bytes:
    import struct

    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _pillow_jpeg(**options: object) -> bytes:
    """A small greyscale JPEG written by Pillow (JFIF header; ``options`` as Pillow takes
    them: restart markers, progressive coding)."""
    from io import BytesIO

    from PIL import Image

    values = (np.add.outer(np.arange(48), np.arange(64)) * 3 % 251).astype(np.uint8)
    out = BytesIO()
    Image.fromarray(values).save(out, "JPEG", quality=90, **options)
    return out.getvalue()


def _pillow_pixels(frame: bytes) -> np.ndarray:
    from io import BytesIO

    from PIL import Image

    return np.asarray(Image.open(BytesIO(frame)))


def _with_sos_fields(frame: bytes, fields: bytes) -> bytes:
    """``frame`` with the last three bytes of its scan header replaced."""
    sos = frame.index(b"\xff\xda")
    end = sos + 2 + int.from_bytes(frame[sos + 2 : sos + 4], "big")
    return frame[: end - 3] + fields + frame[end:]


def _free_byte_cases() -> dict[str, tuple[bytes, bytes]]:
    """(clean frame, the same frame with text where decoders skip it) for each place."""
    baseline = _frame("SC_rgb_jpeg_dcmtk.dcm")
    lossless = _frame("JPEG-LL.dcm")
    restarts = _pillow_jpeg(restart_marker_rows=1)
    secret = SECRET.encode()
    eoi = baseline.rindex(b"\xff\xd9")
    rst = restarts.index(b"\xff\xd0")
    sof = lossless.index(b"\xff\xc3")
    sof_end = sof + 2 + int.from_bytes(lossless[sof + 2 : sof + 4], "big")
    sof_longer = b"\xff\xc3" + (sof_end - sof - 2 + len(secret)).to_bytes(2, "big")
    adobe = b"\xff\xee\x00\x0eAdobe"
    return {
        "fill bytes between segments": (baseline, baseline[:2] + b"\xff" * 40 + baseline[2:]),
        "fill bytes before end of image": (
            baseline,
            baseline[:eoi] + b"\xff" * 40 + baseline[eoi:],
        ),
        "bytes before a restart marker": (restarts, restarts[:rst] + secret + restarts[rst:]),
        "JFIF version and density": (restarts, restarts[:11] + b"Quibble" + restarts[18:]),
        "Adobe version and flags": (
            baseline[:2] + adobe + b"\x00\x64\x00\x00\x00\x00\x01" + baseline[2:],
            baseline[:2] + adobe + b"Quibbl\x01" + baseline[2:],
        ),
        "sequential scan's ignored fields": (baseline, _with_sos_fields(baseline, b"Qui")),
        "lossless scan's ignored fields": (
            lossless,
            _with_sos_fields(lossless, bytes([1, ord("Q"), 0x50])),  # predictor 1 kept
        ),
        "a frame header's tail": (
            lossless,
            lossless[:sof] + sof_longer + lossless[sof + 4 : sof_end] + secret + lossless[sof_end:],
        ),
    }


FREE_BYTES = _free_byte_cases()


@pytest.mark.parametrize("place", sorted(FREE_BYTES))
def test_text_where_a_jpeg_decoder_skips_it_is_not_kept(place: str) -> None:
    clean, hostile = FREE_BYTES[place]
    stripped = strip_jpeg(hostile)
    assert stripped == strip_jpeg(clean)  # one canonical form, whatever the free bytes held
    assert b"Qui" not in stripped and b"\xff" * 3 not in stripped


def test_a_restart_interval_frame_keeps_its_image_once_canonical() -> None:
    frame = _pillow_jpeg(restart_marker_rows=1)
    stripped = strip_jpeg(frame)
    assert stripped.count(b"\xff\xd0") == 1 and stripped.count(b"\xff\xd3") == 1
    assert np.array_equal(_pillow_pixels(stripped), _pillow_pixels(frame))


@pytest.mark.parametrize("marker", [0xF0, 0xFD, 0x02, 0xCC, 0xDC])
def test_a_jpeg_segment_no_decoder_needs_is_refused(marker: int) -> None:
    frame = _frame("SC_rgb_jpeg_dcmtk.dcm")
    with pytest.raises(PayloadError):
        strip_jpeg(frame[:2] + _segment(marker, SECRET.encode()) + frame[2:])


def test_a_progressive_jpeg_is_refused_with_what_to_do() -> None:
    with pytest.raises(PayloadError, match=r"progressive.*convert it"):
        strip_jpeg(_pillow_jpeg(progressive=True))


def test_a_jpeg_ls_mapping_table_is_refused() -> None:
    frame = _frame("MR_small_jpeg_ls_lossless.dcm")
    table = b"\x02\x05\x01" + SECRET.encode()  # id 2: mapping table 5, one byte an entry
    with pytest.raises(PayloadError, match="mapping tables"):
        strip_jpeg(frame[:2] + _segment(0xF8, table) + frame[2:])


def test_text_before_the_end_of_a_jpeg_ls_image_is_not_published(tmp_path: Path) -> None:
    """The end of a JPEG-LS scan is not found by walking it here: its decoder (CharLS,
    in GDCM) refuses a scan followed by bytes it did not use, and every frame is decoded
    as published before it is, so the instance is not published."""
    from pydicom.encaps import encapsulate

    ds = _compressed("MR_small_jpeg_ls_lossless.dcm")
    frame = _one_frame(ds)
    end = frame.rindex(b"\xff\xd9")
    ds.PixelData = encapsulate([frame[:end] + SECRET_BYTES + frame[end:]])
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / "image.dcm", enforce_file_format=True)
    out = tmp_path / "out"
    result = run_cli("deid", tmp_path / "in", out, "--key-file", tmp_path / "deid.key")
    assert result.exit_code == 0, result.output
    assert "cannot be decoded for screening" in result.output
    assert not list(out.rglob("*.dcm"))
    for path in out.rglob("*"):
        assert not path.is_file() or SECRET_BYTES not in path.read_bytes()


def test_an_rle_frame_is_published_in_one_form() -> None:
    import struct

    from pydicom.encaps import encapsulate

    ds = sample("MR_small_RLE.dcm")
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    count = struct.unpack("<L", frame[:4])[0]
    offsets = struct.unpack(f"<{count}L", frame[4 : 4 + 4 * count])
    secret = SECRET.encode()
    # the secret in the absent segments' offsets, and 40 no-operation bytes (128)
    # at the start of the first segment (the offsets after it moved)
    header = struct.pack(f"<{count + 1}L", count, 64, *(o + 40 for o in offsets[1:]))
    hostile = header + secret.ljust(60 - 4 * count) + b"\x80" * 40 + frame[64:]
    stripped = strip_rle(hostile, ds.Rows, ds.Columns)
    assert stripped == strip_rle(frame, ds.Rows, ds.Columns)
    assert secret not in stripped and b"\x80\x80" not in stripped
    ds.PixelData = encapsulate([stripped])
    assert np.array_equal(ds.pixel_array, sample("MR_small_RLE.dcm").pixel_array)


def test_a_j2k_marker_no_decoder_needs_is_refused() -> None:
    frame = _frame("693_J2KR.dcm")
    with pytest.raises(PayloadError, match="unknown marker"):
        strip_j2k(
            frame[:2]
            + b"\xff\x6f"
            + (len(SECRET) + 2).to_bytes(2, "big")
            + SECRET.encode()
            + frame[2:]
        )
