"""Reading the kept dead letters: what was refused and why, and sending it through the ingester again.

A pilot's first days produce dead letters that are nobody's fault in the data: a sensor that is
not in the site file yet, a codec set wrongly. Once the site file is fixed (and the ingester
restarted with it), ``replay`` publishes the kept payloads to their original topics, so they are
decoded again and stored at the time they were first received. What is still wrong is refused
again and becomes a new dead letter.

Pure where it can be: reading records and planning the replay are functions of the files; only
``publish`` talks to the broker.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode
from tqdm import tqdm

from ingest.deadletters import letter_files
from ingest.native import split_native_topic
from ingest.rejections import DecodeError
from parking.events import ns_to_rfc3339
from parking.mqtt import make_client
from parking.settings import CommonSettings
from parking.timestamps import TimestampError, parse_rfc3339


@dataclass(frozen=True, slots=True)
class KeptLetter:
    reason: str
    detail: str
    topic: str
    payload: bytes
    received_ns: int
    truncated: bool


@dataclass
class Reading:
    """The kept letters of a folder, and the lines that could not be read as one."""

    letters: list[KeptLetter] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "file:line: why"


def parse_record(record: Any) -> KeptLetter:
    """One record of the dead-letter file; ValueError saying what is wrong with it."""
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    try:
        payload = base64.b64decode(record["payload_b64"], validate=True)
        return KeptLetter(
            reason=str(record["reason"]),
            detail=str(record.get("detail", "")),
            topic=str(record["topic"]),
            payload=payload,
            received_ns=parse_rfc3339(str(record["received_at"])),
            truncated=bool(record.get("payload_truncated", False)),
        )
    except KeyError as exc:
        raise ValueError(f"missing {exc.args[0]!r}") from exc
    except (binascii.Error, TimestampError) as exc:
        raise ValueError(str(exc)) from exc


def read_letters(folder: Path) -> Reading:
    reading = Reading()
    for path in letter_files(folder):
        with path.open("rb") as file:
            for number, line in enumerate(file, 1):
                if not line.strip():
                    continue
                try:
                    reading.letters.append(parse_record(json.loads(line)))
                except ValueError as exc:  # json.JSONDecodeError is a ValueError too
                    reading.unreadable.append(f"{path.name}:{number}: {exc}")
    return reading


def select(
    letters: Iterable[KeptLetter], reasons: Iterable[str] = (), since_ns: int | None = None
) -> list[KeptLetter]:
    wanted = set(reasons)
    return [
        letter
        for letter in letters
        if (not wanted or letter.reason in wanted) and (since_ns is None or letter.received_ns >= since_ns)
    ]


def summary(reading: Reading, top: int = 5) -> str:
    """Counts per reason, with the topics seen most often for each."""
    letters = reading.letters
    lines = []
    if letters:
        first = min(letter.received_ns for letter in letters)
        last = max(letter.received_ns for letter in letters)
        lines.append(f"{len(letters)} dead letters from {ns_to_rfc3339(first)} to {ns_to_rfc3339(last)}")
    else:
        lines.append("no dead letters")
    by_reason = Counter(letter.reason for letter in letters)
    for reason, count in by_reason.most_common():
        lines.append(f"  {reason}: {count}")
        topics = Counter(letter.topic for letter in letters if letter.reason == reason)
        for topic, n in topics.most_common(top):
            example = next(
                letter.detail for letter in letters if letter.topic == topic and letter.reason == reason
            )
            lines.append(f"    {n:>6} × {topic}  ({example})")
        if len(topics) > top:
            lines.append(f"           … and {len(topics) - top} more topics")
    truncated = sum(1 for letter in letters if letter.truncated)
    if truncated:
        lines.append(f"  {truncated} kept only in part (over 8 KiB): these cannot be replayed")
    for problem in reading.unreadable[:10]:
        lines.append(f"  unreadable: {problem}")
    if len(reading.unreadable) > 10:
        lines.append(f"  … and {len(reading.unreadable) - 10} more unreadable lines")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Resend:
    topic: str
    payload: bytes


def plan(letters: Iterable[KeptLetter]) -> tuple[list[Resend], Counter[str]]:
    """What to publish again, and what is skipped and why.

    A native reading without its own ``ts`` gets the time it was first received, so that it is
    stored when it happened and not when it was replayed. Truncated payloads are skipped.
    """
    resend: list[Resend] = []
    skipped: Counter[str] = Counter()
    for letter in letters:
        if letter.truncated:
            skipped["kept only in part"] += 1
            continue
        resend.append(Resend(letter.topic, _with_time(letter)))
    return resend, skipped


def _with_time(letter: KeptLetter) -> bytes:
    try:
        split_native_topic(letter.topic)
    except DecodeError:
        return letter.payload  # LoRaWAN uplinks carry their own receive times
    try:
        document = json.loads(letter.payload)
    except ValueError:
        return letter.payload
    if not isinstance(document, dict) or document.get("ts") is not None:
        return letter.payload
    return json.dumps({**document, "ts": letter.received_ns // 1_000_000}).encode()


class ReplayError(Exception):
    pass


def publish(
    settings: CommonSettings, resend: list[Resend], *, window: int = 100, timeout_s: float = 30
) -> int:
    """Publish with QoS 1, at most ``window`` unacknowledged at a time; returns how many the broker took.

    Progress goes to stderr (tqdm). Raises ReplayError if the broker cannot be reached or stops
    acknowledging; what was acknowledged before stays published.
    """
    client = make_client(settings, client_id="")
    endpoint = settings.mqtt
    answered = threading.Event()
    refusal: list[str] = []

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        if reason.is_failure:
            refusal.append(str(reason))
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect(endpoint.host, endpoint.port, keepalive=30)
    except OSError as exc:
        raise ReplayError(f"cannot connect to the broker at {endpoint.host}:{endpoint.port}: {exc}") from exc
    client.loop_start()
    done = 0
    try:
        if not answered.wait(timeout_s) or refusal:
            why = refusal[0] if refusal else f"no answer within {timeout_s:g} s"
            raise ReplayError(f"the broker at {endpoint.host}:{endpoint.port} refused the connection: {why}")
        with tqdm(total=len(resend), unit="msg", desc="replay", disable=None) as progress:
            for batch in _chunks(resend, window):
                infos = [client.publish(item.topic, item.payload, qos=1) for item in batch]
                for info in infos:
                    info.wait_for_publish(timeout_s)
                    if not info.is_published():
                        raise ReplayError(f"the broker did not acknowledge within {timeout_s:g} s")
                    if info.rc != mqtt.MQTT_ERR_SUCCESS:
                        raise ReplayError(f"publishing failed: {mqtt.error_string(info.rc)}")
                done += len(batch)
                progress.update(len(batch))
    except (RuntimeError, ValueError) as exc:  # paho raises these when the connection is lost
        raise ReplayError(f"publishing stopped after {done}: {exc}") from exc
    finally:
        client.disconnect()
        client.loop_stop()
    return done


def _chunks(items: list[Resend], size: int) -> Iterator[list[Resend]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
