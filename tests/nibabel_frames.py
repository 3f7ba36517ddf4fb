"""Real MR frames that ship inside the nibabel wheel, as 2-D frames of stored values.

Clean frames for counting the text screening's false positives (``drawn_text``):
scanner DICOM files (frames as stored), MR volumes as NIfTI and a Philips PAR/REC
phantom series (each slice of each volume one frame, in its stored integer type,
rows along the second axis as a DICOM conversion would lay them out). nibabel's
test DICOM files whose pixel data holds only zeros in the wheel (philips_mprage,
siemens_dwi_0 and _1000, decimal_rescale) and files without pixel data
(csa_slice_norm) give no frame; neither does any constant slice, which holds
nothing to screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom

DICOM = ("0.dcm", "1.dcm", "slicethickness_empty_string.dcm")
VOLUMES = ("example4d.nii.gz", "functional.nii", "anatomical.nii", "phantom_EPI_asc_CLEAR_2_1.PAR")


def _root() -> Path:
    import nibabel

    return Path(nibabel.__file__).parent


def dicom_frames() -> Iterator[tuple[str, np.ndarray]]:
    """(name, stored values) of each frame of nibabel's real DICOM files."""
    for name in DICOM:
        array = pydicom.dcmread(_root() / "nicom" / "tests" / "data" / name).pixel_array
        for index, frame in enumerate(array if array.ndim == 3 else [array]):
            yield f"nibabel {name}#{index}", frame


def _stored(path: Path) -> np.ndarray:
    """A volume's stored values. A PAR/REC image is read from files opened here: nibabel
    leaves the REC file it opens itself open."""
    import nibabel
    from nibabel.fileholders import FileHolder

    if path.suffix != ".PAR":
        return np.asarray(nibabel.load(path, mmap=False).dataobj.get_unscaled())  # type: ignore[attr-defined]
    with path.open() as header, path.with_suffix(".REC").open("rb") as rec:
        files = {"header": FileHolder(fileobj=header), "image": FileHolder(fileobj=rec)}
        image = nibabel.parrec.PARRECImage.from_file_map(files, mmap=False)
        return np.asarray(image.dataobj.get_unscaled())


def volume_frames() -> Iterator[tuple[str, np.ndarray]]:
    """(name, stored values) of each slice (third axis) of each volume of ``VOLUMES``."""
    for name in VOLUMES:
        stored = _stored(_root() / "tests" / "data" / name)
        stored = stored.astype(stored.dtype.newbyteorder("="))
        volumes = stored.reshape(*stored.shape[:3], -1)
        for volume in range(volumes.shape[3]):
            for index in range(volumes.shape[2]):
                frame = np.ascontiguousarray(volumes[:, :, index, volume].T)
                yield f"nibabel {name}#{volume}.{index}", frame


def frames() -> Iterator[tuple[str, np.ndarray]]:
    """Every non-constant frame of nibabel's real MR data (repeats included)."""
    for name, frame in (*dicom_frames(), *volume_frames()):
        if frame.min() != frame.max():
            yield name, frame
