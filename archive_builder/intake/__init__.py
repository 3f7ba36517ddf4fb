"""Intake: read a donation package and check it against the contract, refusing what is hostile."""

from .errors import IntakeError
from .header import HeaderBytes, read_header, read_header_bytes, summary
from .package import Instance, Package, open_package
from .record import Diagnosis, DonationRecord, parse_record

__all__ = [
    "Diagnosis",
    "DonationRecord",
    "HeaderBytes",
    "Instance",
    "IntakeError",
    "Package",
    "open_package",
    "parse_record",
    "read_header",
    "read_header_bytes",
    "summary",
]
