"""MQTT topic names of the contract in ARCHITECTURE.md, built and parsed in one place."""

from __future__ import annotations

NATIVE_FILTER = "parking/+/+/status"
TTS_FILTERS = ("v3/+/devices/+/up",)
CHIRPSTACK_FILTER = "application/+/device/+/event/up"
STATE_FILTER = "parking/state/#"
EVENTS_FILTER = "parking/events/#"
DEADLETTER_PREFIX = "parking/deadletter"


def native_status(site: str, bay: str) -> str:
    return f"parking/{site}/{bay}/status"


def state(site: str, bay: str) -> str:
    return f"parking/state/{site}/{bay}"


def event(site: str, bay: str) -> str:
    return f"parking/events/{site}/{bay}"


def deadletter(reason: str) -> str:
    return f"{DEADLETTER_PREFIX}/{reason}"


def tts_uplink(application: str, device: str, tenant: str | None = "ttn") -> str:
    app = f"{application}@{tenant}" if tenant else application
    return f"v3/{app}/devices/{device}/up"


def split_state(topic: str) -> tuple[str, str] | None:
    """(site, bay) of a ``parking/state/{site}/{bay}`` topic, or None for anything else."""
    parts = topic.split("/")
    if len(parts) == 4 and parts[0] == "parking" and parts[1] == "state":
        return parts[2], parts[3]
    return None


SIMULATOR_STATUS_FILTER = "parklotse/simulator/+/status"


def simulator_control(site: str) -> str:
    """Commands to the live simulator of a site (published by the API's control endpoint)."""
    return f"parklotse/simulator/{site}/control"


def simulator_status(site: str) -> str:
    """The live simulator's state and KPIs, retained, about once a second."""
    return f"parklotse/simulator/{site}/status"


def split_simulator_status(topic: str) -> str | None:
    parts = topic.split("/")
    if len(parts) == 4 and parts[:2] == ["parklotse", "simulator"] and parts[3] == "status":
        return parts[2]
    return None
