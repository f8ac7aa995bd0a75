"""A small stand-in publisher for the live simulator: typed status and car positions on the real broker.

The kiosk's tests and benchmark need a known picture (so many cars searching in each twin, a sign saying
"besetzt", a typical day): this publishes exactly that, as ``parking.simulator_messages`` defines it, on
the topics the live simulator uses, and the real API relays it. The cars drive round the town-centre's
blocks; nothing here models traffic (the real simulator's own tests cover that).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt

from parking import topics
from parking.registry import load_site
from parking.settings import PACKAGED_SITES_DIR
from parking.simulator_messages import SimulatorStatus, VehiclePositions
from tests.helpers import mqtt_client

TOWN = load_site(PACKAGED_SITES_DIR / "town-centre.geojson")
SIM_START = datetime.fromisoformat("2026-11-21T11:00:00+01:00")  # a Saturday
# The day's occupancy as the simulator published it since its loop began at 9 h, every five minutes.
TODAY = [(9 + k / 12, round(0.6 + 0.01 * k, 2)) for k in range(24)]
M_PER_DEG_LAT = 111_320.0
# Cars per state in each twin: more circling without sensors, guided and sent to the garage with them.
WITHOUT = {"searching": 34, "approaching": 18, "leaving": 10}
WITH = {"searching": 9, "guided": 22, "to_garage": 7, "approaching": 18, "leaving": 6}
SIGNS = [
    {"id": "einfahrt-nord", "lon": 9.3700, "lat": 53.9221, "lines": [
        {"zone": "Markt", "free": 0, "full": True}, {"zone": "Nord", "free": 12, "full": False}]},
    {"id": "einfahrt-sued", "lon": 9.3700, "lat": 53.9178, "lines": [
        {"zone": "Markt", "free": 0, "full": True}, {"zone": "Süd", "free": 7, "full": False}]},
    {"id": "einfahrt-west", "lon": 9.3662, "lat": 53.9200, "lines": [
        {"zone": "West", "free": 23, "full": False}, {"zone": "Parkhaus", "free": 140, "full": False}]},
]  # fmt: skip


def _band(mean: float, spread: float) -> dict[str, float]:
    return {"mean": mean, "p10": mean - spread, "p90": mean + spread}


def typical_day(preset: str = "markttag") -> dict[str, Any]:
    hours = []
    for hour in range(24):
        weight = math.exp(-(((hour - 11.5) / 2.5) ** 2)) + 0.6 * math.exp(-(((hour - 17) / 1.5) ** 2))
        hours.append(
            {
                "hour": hour,
                "search_min": _band(40 * weight, 12 * weight),
                "km": _band(7 * weight, 2 * weight),
                "co2_kg": _band(1.6 * weight, 0.5 * weight),
            }
        )
    curve = [
        {
            "occupancy": occ / 100,
            "without_sensors_min": round(0.02 * math.exp((occ - 50) / 11), 3),
            "with_sensors_min": round(0.015 * math.exp((occ - 50) / 13), 3),
            "searches": 400,
        }
        for occ in range(50, 100, 5)
    ]
    return {
        "preset": preset,
        "steering": "both",
        "guidance_share": 0.6,
        "sensor_latency_s": 0.0,
        "days": 20,
        "per_day": {"search_min": _band(312, 95), "km": _band(52.3, 14), "co2_kg": _band(12.2, 3.4)},
        "per_hour": hours,
        "curve": curve,
        "computed_at": "2026-12-01T10:00:00Z",
    }


def group(searches: int, mean: float) -> dict[str, Any]:
    return {
        "searches": searches,
        "mean_search_min": mean,
        "search_km": searches * mean * 0.25,
        "co2_g": searches * mean * 60,
        "share_no_search": 0.3,
        "gave_up": 0,
        "to_garage": 0,
        "guidance_misses": 0,
    }


@dataclass
class SimFeed:
    """Publishes a simulator's status (retained, once a second) and both twins' cars (2 Hz)."""

    mqtt_url: str
    site: str = "showroom"
    model_site: str = TOWN.id
    preset: str = "markttag"
    rate_hz: float = 2.0
    speed: float = 30.0
    real_bays: list[str] = field(default_factory=lambda: ["A03"])
    typical: bool = True
    t_s: float = 0.0
    sent: int = 0

    def __post_init__(self) -> None:
        self.client: mqtt.Client = mqtt_client(self.mqtt_url)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.bays = list(TOWN.bays)
        self.loops = self._block_loops()

    # ------------------------------------------------------------------ messages

    def sim_time(self) -> str:
        return (SIM_START + timedelta(seconds=self.t_s)).isoformat()

    def status(self, **overrides: Any) -> SimulatorStatus:
        view = {b.id: str(b.properties.get("town_bay", b.id)) for b in _showroom().bays.values()}
        data: dict[str, Any] = {
            "site": self.site,
            "model_site": self.model_site,
            "view_bays": view if self.site != self.model_site else {},
            "scenario": "town-centre",
            "scenarios": ["town-centre"],
            "preset": self.preset,
            "presets": [_preset(p) for p in ("werktag", "markttag", "abend", "ausfall")],
            "window_hours": (9.0, 19.0),
            "steering": "both",
            "state": "running",
            "speed": self.speed,
            "guidance_share": 0.6,
            "sensor_latency_s": 0.0,
            "sim_seconds": self.t_s,
            "sim_time": self.sim_time(),
            "day_label": "Samstag · Markttag",
            "error": None,
            "updated_at": datetime.now().astimezone().isoformat(),
            "kpis": {
                "t_s": self.t_s,
                "sim_time": self.sim_time(),
                "now": {
                    "searching": {"without_sensors": WITHOUT["searching"], "with_sensors": WITH["searching"]},
                    "on_road": {"without_sensors": sum(WITHOUT.values()), "with_sensors": sum(WITH.values())},
                    "occupancy": {"without_sensors": 0.91, "with_sensors": 0.89},
                    "search_area_occupancy": {"without_sensors": 0.93, "with_sensors": 0.9},
                },
                "today": {
                    "without_sensors": group(180, 2.4),
                    "with_sensors": group(180, 1.1),
                    "guided": group(110, 0.8),
                    "unguided": group(70, 1.6),
                    "saved": {"search_min": 128.0, "km": 21.5, "co2_kg": 5.0},
                },
                "factors": {
                    "co2_g_per_km": {"value": 233.0, "source": "Destatis 2017: 179 g CO₂/km × 1,3"},
                    "search_speed_kmh": {"value": 15.0, "source": "start2park (Frankfurt UAS)"},
                },
            },
            "typical_day": typical_day(self.preset) if self.typical else None,
            "real_bays": self.real_bays,
            "signs": SIGNS,
            "today_occupancy": TODAY,
        }
        data.update(overrides)
        return SimulatorStatus.model_validate(data)

    def positions(self) -> VehiclePositions:
        cars: dict[str, list[Any]] = {}
        for twin, counts in (("without_sensors", WITHOUT), ("with_sensors", WITH)):
            out: list[Any] = []
            driver = 0
            for state, n in counts.items():
                for _ in range(n):
                    out.append([driver, *self._on_loop(driver, twin), state])
                    driver += 1
            cars[twin] = out
        occupied = "".join("1" if (i * 7) % 10 < 9 else "0" for i in range(len(self.bays)))
        return VehiclePositions.model_validate(
            {
                "site": self.model_site,
                "t_s": self.t_s,
                "sim_time": self.sim_time(),
                "interval_s": 1.0 / self.rate_hz,
                "without_sensors": cars["without_sensors"],
                "with_sensors": cars["with_sensors"],
                "bays": self.bays,
                "occupied_without_sensors": occupied,
                "occupied_with_sensors": occupied.replace("1", "0", 40),
            }
        )

    def publish_status(self, **overrides: Any) -> SimulatorStatus:
        status = self.status(**overrides)
        topic = topics.simulator_status(self.site)
        self.client.publish(topic, status.model_dump_json(), qos=1, retain=True).wait_for_publish(10)
        return status

    def publish_positions(self) -> None:
        payload = self.positions().model_dump_json()
        self.client.publish(topics.simulator_vehicles(self.model_site), payload, qos=0)
        self.sent += 1

    # ------------------------------------------------------------------ running

    def start(self) -> SimFeed:
        self.publish_status()
        self._thread = threading.Thread(target=self._run, name="simfeed", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        interval = 1.0 / self.rate_hz
        next_at = time.monotonic()
        ticks = 0
        while not self._stop.is_set():
            self.t_s += interval * self.speed
            self.publish_positions()
            ticks += 1
            if ticks % max(1, round(self.rate_hz)) == 0:
                self.publish_status()
            next_at += interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop(self, clear: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if clear:
            topic = topics.simulator_status(self.site)
            self.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
        self.client.disconnect()
        self.client.loop_stop()

    # ------------------------------------------------------------------ cars round the blocks

    def _block_loops(self) -> list[list[tuple[float, float]]]:
        grid = TOWN.properties.get("grid") or {}
        nodes = int(grid.get("nodes", 6))
        block = float(grid.get("block_m", 100.0))
        lon0, lat0 = grid.get("origin", TOWN.center)
        dlat = block / M_PER_DEG_LAT
        dlon = block / (M_PER_DEG_LAT * math.cos(math.radians(lat0)))
        loops = []
        for i in range(nodes - 1):
            for j in range(nodes - 1):
                a = (lon0 + i * dlon, lat0 + j * dlat)
                b = (lon0 + (i + 1) * dlon, lat0 + j * dlat)
                c = (lon0 + (i + 1) * dlon, lat0 + (j + 1) * dlat)
                d = (lon0 + i * dlon, lat0 + (j + 1) * dlat)
                loops.append([a, b, c, d])
        return loops

    def _on_loop(self, driver: int, twin: str) -> tuple[float, float, int]:
        """Where a driver is now on its block's loop: lon, lat and heading."""
        loop = self.loops[(driver * 7 + (3 if twin == "with_sensors" else 0)) % len(self.loops)]
        metres = (driver * 37.0 + self.t_s * 6.0) % 400.0
        side = int(metres // 100)
        f = (metres % 100) / 100
        (x0, y0), (x1, y1) = loop[side], loop[(side + 1) % 4]
        heading = (90, 0, 270, 180)[side]
        return x0 + (x1 - x0) * f, y0 + (y1 - y0) * f, heading


def _showroom() -> Any:
    return load_site(PACKAGED_SITES_DIR / "showroom.geojson")


def _preset(name: str) -> dict[str, Any]:
    titles = {
        "werktag": "Werktag",
        "markttag": "Markttag",
        "abend": "Abend",
        "ausfall": "Sensoren ausgefallen",
    }
    return {
        "name": name,
        "title": {"de": titles[name], "en": name},
        "description": {"de": titles[name], "en": name},
        "day": "saturday" if name == "markttag" else "weekday",
        "loop_start_h": 9.0,
        "loop_end_h": 19.0,
    }
