"""The ingester's other MQTT messages, typed: a bay's status change and a dead letter.

Topics (built in ``parking.topics``):

* ``parking/events/{site}/{bay}``: ``BayEvent``, not retained, QoS 1, once per status change;
* ``parking/deadletter/{reason}``: ``DeadLetterMessage``, QoS 1, once per refused input; the same
  object is a line of the ingester's dead-letter file (``ingest.deadletters``).

The retained ``parking/state/{site}/{bay}`` message is ``parking.state.StateMessage``; the live
simulator's messages are in ``parking.simulator_messages``. Readers ignore fields they do not know,
so an older reader takes a newer ingester's messages.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from parking.events import BayStatus, ns_to_rfc3339
from parking.state import BayState, StateMessage, WireTime
from parking.timestamps import TimestampError, parse_rfc3339


class BayEvent(StateMessage):
    """A bay's status changed: its state after the reading, with the reading's time and source."""

    ts: WireTime = Field(default=None, description="Event time of the reading that changed the status")
    source: str | None = Field(
        default=None, description="The decoder that read it: native, tts, chirpstack or a vendor codec"
    )
    previous: BayStatus | None = Field(
        default=None,
        description="The status before the reading, as the ingester knew it (unknown for a bay's first "
        "reading; absent from ingesters before 2026-12)",
    )


def event_message(
    state: BayState, reading_ns: int, source: str, previous: BayStatus | None = None
) -> dict[str, Any]:
    """``BayEvent(...).model_dump(mode="json")``, made by hand: the ingester encodes one per status
    change, on its hot path (as ``BayState.as_message``). Tests hold the two equal."""
    return {
        **state.as_message(),
        "ts": ns_to_rfc3339(reading_ns),
        "source": source,
        "previous": None if previous is None else previous.value,
    }


class DeadLetterMessage(BaseModel):
    """An input the ingester refused, kept whole (up to ``KEEP_PAYLOAD_BYTES``) with why and when."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    reason: str = Field(description="A rejection reason slug, e.g. malformed_json, unknown_bay")
    detail: str = Field(default="", description="What exactly was wrong, and where")
    topic: str = Field(description="The topic the input arrived on (it names the bay or the device)")
    payload_b64: str = Field(description="The payload as received, base64 (at most the first 8 KiB)")
    payload_bytes: int = Field(ge=0, description="The payload's full size")
    received_at: str = Field(description="When the ingester received it, RFC 3339 UTC")
    payload_truncated: bool = Field(default=False, description="True when only the first 8 KiB are kept")

    @field_validator("payload_b64")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"not base64: {exc}") from exc
        return value

    @field_validator("received_at")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        try:
            parse_rfc3339(value)
        except TimestampError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @property
    def payload(self) -> bytes:
        return base64.b64decode(self.payload_b64)

    @property
    def received_ns(self) -> int:
        return parse_rfc3339(self.received_at)

    def record(self) -> dict[str, Any]:
        """The JSON object as published and filed (``payload_truncated`` only when true)."""
        return self.model_dump(exclude=None if self.payload_truncated else {"payload_truncated"})
