"""Whatever arrives on the broker, decoding answers with readings or a rejection and never crashes;
the codecs and envelope parsers fail only with DecodeError, so a rejection always has a real reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.codecs import CODECS, CodecResult
from ingest.decode import decode
from ingest.health import HEALTH_RANGES
from ingest.lorawan import parse_chirpstack_uplink, parse_tts_uplink
from ingest.rejections import DecodeError, Reason, Rejection
from parking.registry import Registry, parse_site

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
RECEIVED_NS = 1_800_000_000 * 10**9
FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TTS_TOPIC = "v3/parking-demo@ttn/devices/pls-bay-001/up"
CS_TOPIC = "application/17c82e96-be03-4f38-aef3-f83d48582d97/device/0101010101010101/event/up"
ENVELOPES = {
    "ttn_v3_uplink_bosch_pls_DERIVED.json": TTS_TOPIC,
    "ttn_v3_uplink_normalized.json": "v3/app1@tenant1/devices/dev1/up",
    "chirpstack_v4_up_bosch_pls_DERIVED.json": CS_TOPIC,
    "chirpstack_v3_up_jsonv3.json": "application/123/device/0202020202020202/event/up",
}


def _registry() -> Registry:
    def bay(bay_id: str, **properties: Any) -> dict[str, Any]:
        geometry = {"type": "Point", "coordinates": [10.0, 54.0]}
        return {"type": "Feature", "geometry": geometry, "properties": {"bay": bay_id, **properties}}

    site = {
        "type": "FeatureCollection",
        "site": {"id": "lab", "name": "Fuzzing"},
        "features": [
            bay("A-01", device_id="pls-bay-001", dev_eui="0101010101010101", codec="bosch-pls"),
            bay("A-02", device_id="dev1"),
            bay("A-03", dev_eui="0202020202020202", codec="milesight-em400-mud"),
            bay(
                "A-04",
                device_id="em400",
                codec="milesight-em400-mud",
                codec_options={"occupied_below_mm": 900},
            ),
        ],
    }
    return Registry([parse_site(site, Path("lab.geojson"))])


REGISTRY = _registry()


def _samples() -> list[tuple[str, dict[str, Any]]]:
    if not SAMPLES.is_dir():
        return []
    return [
        (topic, json.loads((SAMPLES / name).read_text(encoding="utf-8"))) for name, topic in ENVELOPES.items()
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths.extend(_paths(child, (*prefix, index)))
    return paths


def _replaced(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return {k: (_replaced(v, rest, new) if k == head else v) for k, v in document.items()}
    return [(_replaced(v, rest, new) if i == head else v) for i, v in enumerate(document)]


@st.composite
def mutated_envelopes(draw: st.DrawFn) -> tuple[str, bytes]:
    """A documented envelope with one field anywhere in it replaced by arbitrary JSON."""
    samples = _samples()
    if not samples:
        pytest.skip(f"the research samples folder {SAMPLES} is not available")
    topic, document = draw(st.sampled_from(samples))
    path = draw(st.sampled_from(_paths(document)))
    mutated = _replaced(document, path, draw(json_values))
    return topic, json.dumps(mutated).encode()


topics = st.one_of(
    st.text(max_size=80),
    st.sampled_from([TTS_TOPIC, CS_TOPIC, "parking/lab/A-01/status", "v3/x/devices/em400/up"]),
    st.builds("v3/{}/devices/{}/{}".format, st.text(max_size=12), st.text(max_size=12), st.text(max_size=6)),
    st.builds(
        "application/{}/device/{}/event/{}".format, st.text(max_size=8), st.text(max_size=18), st.just("up")
    ),
)


@FAST
@given(topic=topics, payload=st.binary(max_size=256))
def test_decode_never_raises_on_arbitrary_topics_and_bytes(topic: str, payload: bytes) -> None:
    result = decode(topic, payload, REGISTRY, RECEIVED_NS)
    assert isinstance(result, list | Rejection)


@FAST
@given(envelope=mutated_envelopes())
def test_decode_never_raises_on_damaged_network_server_envelopes(envelope: tuple[str, bytes]) -> None:
    topic, payload = envelope
    assert isinstance(decode(topic, payload, REGISTRY, RECEIVED_NS), list | Rejection)


@FAST
@given(envelope=mutated_envelopes())
def test_envelope_parsers_fail_only_with_decode_error(envelope: tuple[str, bytes]) -> None:
    topic, payload = envelope
    parse = parse_tts_uplink if topic.startswith("v3/") else parse_chirpstack_uplink
    try:
        readings = parse(topic, payload, REGISTRY, RECEIVED_NS)
    except DecodeError:
        return
    assert len(readings) == 1


@FAST
@given(envelope=mutated_envelopes())
def test_no_envelope_is_refused_for_a_health_figure_and_kept_figures_are_physical(
    envelope: tuple[str, bytes],
) -> None:
    topic, payload = envelope
    result = decode(topic, payload, REGISTRY, RECEIVED_NS)
    if isinstance(result, Rejection):
        assert result.reason is not Reason.OUT_OF_RANGE, result.detail
        return
    for reading in result:
        assert _physical(reading.health.fields())


# --- codecs --------------------------------------------------------------------------------------------

ports = st.none() | st.integers(min_value=-1, max_value=300)
options = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"occupied_below_mm": json_values}),
    st.fixed_dictionaries({"occupied_below_mm": st.floats(min_value=1, max_value=5000)}),
)


@st.composite
def dingtek_like_frames(draw: st.DrawFn) -> bytes:
    """Frames with the DO201 header, length and tail right, so the body checks are reached."""
    frame_type = draw(st.sampled_from([0x02, 0x03, 0x04]))
    length = draw(st.sampled_from([16, 23, draw(st.integers(6, 30))]))
    body = draw(st.binary(min_size=length - 6, max_size=length - 6))
    return bytes([0x80, 0x00, 0x31, frame_type, length]) + body + b"\x81"


@st.composite
def milesight_like_frames(draw: st.DrawFn) -> bytes:
    """Sequences of known channel/type pairs with random values, sometimes cut short."""
    keys = [(0x01, 0x75), (0x03, 0x67), (0x04, 0x82), (0x05, 0x00), (0x83, 0x67), (0x84, 0x82), (0xFF, 0x16)]
    records = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=5))
    frame = b"".join(bytes(key) + draw(st.binary(min_size=1, max_size=8)) for key in records)
    return frame[: draw(st.integers(1, len(frame)))]


codec_frames = st.binary(max_size=40) | dingtek_like_frames() | milesight_like_frames()


def _physical(fields: dict[str, float]) -> bool:
    return all(HEALTH_RANGES[key][0] <= value <= HEALTH_RANGES[key][1] for key, value in fields.items())


def _within_health_ranges(result: CodecResult) -> bool:
    return _physical(result.health.fields())


@FAST
@given(codec=st.sampled_from(sorted(CODECS)), f_port=ports, data=codec_frames, codec_options=options)
def test_codecs_fail_only_with_decode_error_and_report_only_physical_values(
    codec: str, f_port: int | None, data: bytes, codec_options: dict[str, Any]
) -> None:
    try:
        result = CODECS[codec](f_port, data, codec_options)
    except DecodeError:
        return
    assert isinstance(result, CodecResult)
    assert _within_health_ranges(result)
