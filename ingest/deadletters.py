"""Dead letters: every refused input is kept in a rotating local file, published, counted and logged."""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.rejections import Rejection
from parking.events import ns_to_rfc3339
from parking.logs import RateLimitedLog as RateLimitedLog  # moved there; ingest.service imports it here
from parking.messages import DeadLetterMessage

log = logging.getLogger(__name__)


# Enough for any real uplink; an oversize payload is kept only in part (its size is recorded), so
# a flood of huge messages cannot push the useful dead letters out of the rotating files.
KEEP_PAYLOAD_BYTES = 8_192


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    detail: str
    topic: str
    payload: bytes
    received_ns: int

    def message(self) -> DeadLetterMessage:
        # Made from what the ingester holds, valid by construction: nothing to validate again.
        return DeadLetterMessage.model_construct(
            reason=self.reason,
            detail=self.detail,
            topic=self.topic,
            payload_b64=base64.b64encode(self.payload[:KEEP_PAYLOAD_BYTES]).decode("ascii"),
            payload_bytes=len(self.payload),
            received_at=ns_to_rfc3339(self.received_ns),
            payload_truncated=len(self.payload) > KEEP_PAYLOAD_BYTES,
        )

    def as_record(self) -> dict[str, Any]:
        return self.message().record()

    def to_json(self) -> bytes:
        return json.dumps(self.as_record(), ensure_ascii=False, separators=(",", ":")).encode()


def dead_letter(rejection: Rejection, topic: str, payload: bytes, received_ns: int) -> DeadLetter:
    return DeadLetter(rejection.reason.value, rejection.detail, topic, payload, received_ns)


FILE_NAME = "deadletters.jsonl"


def rotated_path(directory: Path, index: int) -> Path:
    """``deadletters.jsonl.{index}``: 1 is the newest rotated file."""
    return directory / f"{FILE_NAME}.{index}"


def letter_files(directory: Path) -> list[Path]:
    """The files of a dead-letter folder, oldest first: ``.N`` … ``.1``, then the current one."""
    rotated = sorted(
        (p for p in directory.glob(f"{FILE_NAME}.*") if p.suffix[1:].isdigit()),
        key=lambda p: int(p.suffix[1:]),
        reverse=True,
    )
    current = directory / FILE_NAME
    return [*rotated, *([current] if current.exists() else [])]


class DeadLetterFile:
    """JSON lines, rotated by size (``deadletters.jsonl``, ``.1`` … ``.N``), fsync'd per batch.

    The file is written before the message is acknowledged, so a refused payload survives a crash.
    """

    def __init__(self, directory: Path, max_bytes: int, keep: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.keep = keep
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / FILE_NAME

    def append(self, letters: list[DeadLetter]) -> None:
        if not letters:
            return
        data = b"".join(letter.to_json() + b"\n" for letter in letters)
        if self.path.exists() and self.path.stat().st_size + len(data) > self.max_bytes:
            self._rotate()
        with self.path.open("ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def _rotate(self) -> None:
        for index in range(self.keep - 1, 0, -1):
            older = rotated_path(self.directory, index)
            if older.exists():
                older.replace(rotated_path(self.directory, index + 1))
        self.path.replace(rotated_path(self.directory, 1))
        extra = rotated_path(self.directory, self.keep)
        if extra.exists() and self.keep > 0:
            extra.unlink()
