"""The ingester's event and dead-letter messages: one model each, the same shape on both ends."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from ingest.deadletters import KEEP_PAYLOAD_BYTES, DeadLetter
from parking.events import BayStatus, ns_to_rfc3339
from parking.messages import BayEvent, DeadLetterMessage, event_message
from parking.state import BayState

T = 1_763_719_200_123_000_000  # 2025-11-21T10:00:00.123Z


@pytest.mark.parametrize(
    "state",
    [
        BayState("showroom", "A01", BayStatus.OCCUPIED, T, T, 3.6, None, T),
        BayState("showroom", "A02"),
    ],
)
def test_the_hand_made_event_is_the_models_json(state: BayState) -> None:
    made = event_message(state, T, "native", BayStatus.UNKNOWN)
    wire = {
        **state.message().model_dump(mode="json"),
        "ts": ns_to_rfc3339(T),
        "source": "native",
        "previous": "unknown",
    }
    assert made == BayEvent.model_validate(wire).model_dump(mode="json")


def test_an_event_reads_back_into_the_model_and_unknown_fields_are_ignored() -> None:
    state = BayState("showroom", "A01", BayStatus.FREE, T, T, None, 87.0, T)
    wire = json.dumps({**event_message(state, T, "tts"), "added_later": 1})
    event = BayEvent.model_validate_json(wire)
    assert event.status is BayStatus.FREE and event.ts == T and event.source == "tts"
    assert event.previous is None  # none given


def test_a_dead_letter_as_filed_and_published_fits_the_model() -> None:
    letter = DeadLetter("malformed_json", "line 1", "parking/showroom/A01/status", b"{oops", T)
    record = letter.as_record()
    message = DeadLetterMessage.model_validate_json(letter.to_json())
    assert message.record() == record and "payload_truncated" not in record
    assert message.payload == b"{oops" and message.received_ns == T


def test_an_oversize_payload_is_kept_in_part_and_says_so() -> None:
    big = b"x" * (KEEP_PAYLOAD_BYTES + 1)
    message = DeadLetterMessage.model_validate(DeadLetter("too_large", "", "t", big, T).as_record())
    assert message.payload_truncated and message.payload_bytes == len(big)
    assert len(message.payload) == KEEP_PAYLOAD_BYTES


@pytest.mark.parametrize(
    ("field", "value"), [("payload_b64", "not base64!"), ("received_at", "yesterday"), ("payload_bytes", -1)]
)
def test_a_dead_letter_with_a_bad_field_is_refused(field: str, value: object) -> None:
    record = {**DeadLetter("x", "", "t", b"1", T).as_record(), field: value}
    with pytest.raises(ValidationError, match=field):
        DeadLetterMessage.model_validate(record)
