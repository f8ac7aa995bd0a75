"""Why an input was refused: a short reason slug (a topic level and a metric label) and a detail."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    BAD_TOPIC = "bad_topic"
    UNKNOWN_BAY = "unknown_bay"
    UNKNOWN_DEVICE = "unknown_device"
    OVERSIZE = "oversize"
    MALFORMED_JSON = "malformed_json"
    BAD_SCHEMA = "bad_schema"
    BAD_BASE64 = "bad_base64"
    BAD_FRAME = "bad_frame"
    OUT_OF_RANGE = "out_of_range"
    BAD_TIMESTAMP = "bad_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    NO_DECODER = "no_decoder"
    STORE_REJECTED = "store_rejected"


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    detail: str


class DecodeError(Exception):
    """Raised inside decoders, turned into a Rejection at the edge of ``decode``."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
