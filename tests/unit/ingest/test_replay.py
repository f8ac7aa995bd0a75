"""Kept dead letters: read back in order, summarised, and planned for replay with their times."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from ingest.replay import KeptLetter, Reading, plan, read_letters, select, summary
from parking.events import ns_to_rfc3339

T0 = 1_763_719_200_000_000_000  # 2025-11-21T10:00:00Z
SECOND = 1_000_000_000


def _record(topic: str, payload: bytes, reason: str = "unknown_bay", at: int = T0, **extra: object) -> str:
    return json.dumps(
        {
            "reason": reason,
            "detail": f"{reason} detail",
            "topic": topic,
            "payload_b64": base64.b64encode(payload).decode(),
            "payload_bytes": len(payload),
            "received_at": ns_to_rfc3339(at),
            **extra,
        }
    )


def _letter(topic: str, payload: bytes, *, truncated: bool = False) -> KeptLetter:
    return KeptLetter("unknown_bay", "", topic, payload, T0, truncated)


def test_rotated_files_are_read_oldest_first(tmp_path: Path) -> None:
    (tmp_path / "deadletters.jsonl.2").write_text(_record("a", b"1") + "\n")
    (tmp_path / "deadletters.jsonl.1").write_text(_record("b", b"2") + "\n")
    (tmp_path / "deadletters.jsonl").write_text(_record("c", b"3") + "\n")
    assert [letter.topic for letter in read_letters(tmp_path).letters] == ["a", "b", "c"]


def test_a_broken_line_is_reported_with_its_place_and_the_rest_is_read(tmp_path: Path) -> None:
    lines = [_record("a", b"1"), "{not json", json.dumps({"reason": "x"}), _record("b", b"2")]
    (tmp_path / "deadletters.jsonl").write_text("\n".join(lines) + "\n")
    reading = read_letters(tmp_path)
    assert [letter.topic for letter in reading.letters] == ["a", "b"]
    assert reading.unreadable[0].startswith("deadletters.jsonl:2: ")
    assert reading.unreadable[1] == "deadletters.jsonl:3: missing 'payload_b64'"


def test_letters_are_chosen_by_reason_and_time() -> None:
    letters = [
        KeptLetter("unknown_device", "", "t", b"", T0, False),
        KeptLetter("unknown_bay", "", "t", b"", T0 + 10 * SECOND, False),
        KeptLetter("malformed_json", "", "t", b"", T0 + 20 * SECOND, False),
    ]
    assert [x.reason for x in select(letters, ["unknown_bay", "unknown_device"])] == [
        "unknown_device",
        "unknown_bay",
    ]
    assert [x.reason for x in select(letters, since_ns=T0 + 10 * SECOND)] == ["unknown_bay", "malformed_json"]


def test_a_native_reading_without_time_is_replayed_with_the_time_it_was_received() -> None:
    [resend], _ = plan([_letter("parking/showroom/Z9/status", b'{"occupied": true}')])
    assert resend.topic == "parking/showroom/Z9/status"
    assert json.loads(resend.payload) == {"occupied": True, "ts": T0 // 1_000_000}


def test_a_native_reading_with_its_own_time_is_replayed_unchanged() -> None:
    payload = b'{"occupied": false, "ts": "2025-11-21T09:00:00Z"}'
    [resend], _ = plan([_letter("parking/showroom/Z9/status", payload)])
    assert resend.payload == payload


def test_lorawan_uplinks_and_non_json_are_replayed_byte_for_byte() -> None:
    uplink = b'{"end_device_ids": {"device_id": "x"}, "received_at": "2025-11-21T09:00:00Z"}'
    resend, _ = plan(
        [
            _letter("v3/app@ttn/devices/x/up", uplink),
            _letter("parking/showroom/A01/status", b"\xff not json"),
        ]
    )
    assert [r.payload for r in resend] == [uplink, b"\xff not json"]


def test_a_payload_kept_only_in_part_is_not_replayed() -> None:
    resend, skipped = plan([_letter("parking/showroom/A01/status", b"{", truncated=True)])
    assert resend == [] and skipped == {"kept only in part": 1}


def test_the_summary_counts_reasons_and_names_the_topics() -> None:
    letters = [
        KeptLetter("unknown_device", "no device 'pls-9'", "v3/a@t/devices/pls-9/up", b"", T0, False),
        KeptLetter("unknown_device", "no device 'pls-9'", "v3/a@t/devices/pls-9/up", b"", T0 + SECOND, False),
        KeptLetter("malformed_json", "bad", "parking/showroom/A01/status", b"", T0 + 2 * SECOND, True),
    ]
    text = summary(Reading(letters, ["deadletters.jsonl:7: missing 'topic'"]))
    assert (
        text.splitlines()[0] == f"3 dead letters from {ns_to_rfc3339(T0)} to {ns_to_rfc3339(T0 + 2 * SECOND)}"
    )
    assert "  unknown_device: 2" in text
    assert "         2 × v3/a@t/devices/pls-9/up  (no device 'pls-9')" in text
    assert "1 kept only in part" in text
    assert "unreadable: deadletters.jsonl:7: missing 'topic'" in text
