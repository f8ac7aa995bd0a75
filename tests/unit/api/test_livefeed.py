"""The live feed: which state messages it applies, and which it refuses."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from api.broadcast import Broadcaster
from api.current import CurrentView
from api.livefeed import LiveFeed
from api.settings import ApiSettings
from api.simulators import SimulatorBook
from parking.events import BayStatus
from parking.registry import Registry, parse_site
from parking.state import BayState, LiveState

SEC = 1_000_000_000
NOW = 1_795_000_000 * SEC  # 2026-11-18
TOPIC = "parking/state/s/b"
FORGED = json.dumps(
    {"status": "closed", "since": "2199-12-31T00:00:00Z", "last_seen": "2199-12-31T00:00:00Z"}
).encode()


@pytest.fixture
def live() -> LiveState:
    bay = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [10.0, 54.0]},
        "properties": {"bay": "b"},
    }
    site = {"type": "FeatureCollection", "site": {"id": "s", "name": "S"}, "features": [bay]}
    return LiveState(Registry([parse_site(site, Path("s.geojson"))]))


@pytest.fixture
def heard() -> list[str]:
    return []


@pytest.fixture
def feed(live: LiveState, heard: list[str]) -> LiveFeed:
    settings = ApiSettings(state_max_future_s=600)
    return LiveFeed(
        settings, live, Broadcaster(), SimulatorBook(), clock=lambda: NOW, on_refused=heard.append
    )


def _genuine(status: BayStatus, at_ns: int) -> bytes:
    return json.dumps(BayState("s", "b", status, at_ns, at_ns, confirmed_ns=at_ns).as_message()).encode()


def _receive(feed: LiveFeed, payload: bytes) -> None:
    state = feed.take_state(TOPIC, payload)
    if state is not None:
        feed.apply(state)


def test_a_state_dated_beyond_the_allowed_skew_is_ignored_and_counted(
    feed: LiveFeed, live: LiveState, heard: list[str]
) -> None:
    _receive(feed, _genuine(BayStatus.FREE, NOW - 60 * SEC))
    _receive(feed, FORGED)
    assert live.get("s", "b").status is BayStatus.FREE  # type: ignore[union-attr]
    assert feed.refused["future"] == 1 and heard == ["future"]


def test_a_genuine_state_after_a_forged_one_applies(feed: LiveFeed, live: LiveState) -> None:
    _receive(feed, FORGED)
    _receive(feed, _genuine(BayStatus.OCCUPIED, NOW))
    assert live.get("s", "b").status is BayStatus.OCCUPIED  # type: ignore[union-attr]


def test_a_state_just_within_the_skew_applies(feed: LiveFeed, live: LiveState) -> None:
    _receive(feed, _genuine(BayStatus.OCCUPIED, NOW + 600 * SEC))
    assert live.get("s", "b").status is BayStatus.OCCUPIED  # type: ignore[union-attr]
    assert not feed.refused


def test_a_malformed_state_is_ignored_and_counted(feed: LiveFeed, live: LiveState, heard: list[str]) -> None:
    _receive(feed, b'{"status": "parked"}')
    assert live.get("s", "b") == BayState("s", "b")
    assert feed.refused["malformed"] == 1 and heard == ["malformed"]


def test_a_cleared_retained_state_is_no_error(feed: LiveFeed, heard: list[str]) -> None:
    assert feed.take_state(TOPIC, b"") is None
    assert not feed.refused and not heard


def test_refusals_are_logged_once_a_minute_per_reason(
    feed: LiveFeed, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="api.livefeed"):
        for _ in range(50):
            feed.take_state(TOPIC, FORGED)
    assert feed.refused["future"] == 50
    assert len(caplog.records) == 1 and "2199-12-31" in caplog.text


def test_a_bay_event_shows_the_state_as_the_bay_list_does(live: LiveState) -> None:
    broadcaster = Broadcaster()
    view = CurrentView(live, 3600 * SEC, clock=lambda: NOW)
    feed = LiveFeed(ApiSettings(), live, broadcaster, SimulatorBook(), clock=lambda: NOW, shown=view.shown)
    silent = NOW - 2 * 3600 * SEC  # stored late (a gateway's backlog): its sensor is silent by now
    _receive(feed, _genuine(BayStatus.FREE, silent))
    events = broadcaster.since(0)
    assert events
    event = events[-1]
    assert event.kind == "bay" and event.data["status"] == "unknown"
