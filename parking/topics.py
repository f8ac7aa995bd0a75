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
SIMULATOR_VEHICLES_FILTER = "parklotse/simulator/+/vehicles"
SIMULATOR_WANTED_FILTER = "parklotse/simulator/+/wanted"


def simulator_control(site: str) -> str:
    """Commands to the live simulator of a site (published by the API's control endpoint)."""
    return f"parklotse/simulator/{site}/control"


def simulator_status(site: str) -> str:
    """The live simulator's state and KPIs, retained, about once a second."""
    return f"parklotse/simulator/{site}/status"


def simulator_vehicles(site: str) -> str:
    """Positions of the cars on the road in both twins (QoS 0, not retained, only while wanted)."""
    return f"parklotse/simulator/{site}/vehicles"


def simulator_wanted(site: str) -> str:
    """A short lease from the API: "someone watches the cars, publish positions for N seconds"."""
    return f"parklotse/simulator/{site}/wanted"


def split_simulator(topic: str) -> tuple[str, str] | None:
    """(site, kind) of a ``parklotse/simulator/{site}/{kind}`` topic, or None for anything else."""
    parts = topic.split("/")
    if len(parts) == 4 and parts[:2] == ["parklotse", "simulator"] and parts[2] and parts[3]:
        return parts[2], parts[3]
    return None


def split_simulator_status(topic: str) -> str | None:
    found = split_simulator(topic)
    return found[0] if found is not None and found[1] == "status" else None
