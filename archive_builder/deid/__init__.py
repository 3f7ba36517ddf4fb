"""De-identification: DICOM PS3.15 Annex E Basic Profile with options, verified on every file."""

from .descriptors import imaging_term
from .engine import Donor, age_string, deidentify
from .errors import DeidError, LeakError
from .identifiers import Identifiers
from .profile import load_profile
from .risk import exclusion_reason
from .study import Output, StudyResult, deidentify_study
from .verify import find_leaks, header_bytes

__all__ = [
    "DeidError",
    "Donor",
    "Identifiers",
    "LeakError",
    "Output",
    "StudyResult",
    "age_string",
    "deidentify",
    "deidentify_study",
    "exclusion_reason",
    "find_leaks",
    "header_bytes",
    "imaging_term",
    "load_profile",
]
