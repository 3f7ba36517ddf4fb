"""Intake: read a donation package and check it against the contract, refusing what is hostile."""

from .errors import IntakeError
from .package import Instance, Package, open_package, read_header
from .record import Diagnosis, DonationRecord, parse_record

__all__ = [
    "Diagnosis",
    "DonationRecord",
    "Instance",
    "IntakeError",
    "Package",
    "open_package",
    "parse_record",
    "read_header",
]
