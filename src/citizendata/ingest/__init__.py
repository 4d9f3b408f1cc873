"""Submission intake: JSON, CSV/XLSX (KoboToolbox and ODK Central exports) and OpenRosa."""

from citizendata.ingest.payload import (
    IncomingSubmission,
    canonical_json,
    content_hash,
    parse_json_body,
    parse_json_submission,
)

__all__ = [
    "IncomingSubmission",
    "canonical_json",
    "content_hash",
    "parse_json_body",
    "parse_json_submission",
]
