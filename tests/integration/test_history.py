"""History endpoints against a real InfluxDB: points written straight to it, the API as a subprocess.

Expected figures are worked out by hand from the readings (state = latest reading, sampled at the
end of each minute; unknown bays are left out).
"""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from parking.events import datetime_to_ns, ns_to_rfc3339
from parklotse.servers import free_port
from tests.conftest import Servers, _healthy
from tests.helpers import Service, wait_for

pytestmark = pytest.mark.integration

MIN = 60_000_000_000
HOUR = 60 * MIN
DAY = 24 * HOUR
TOKEN = {"Authorization": "Bearer demo-token"}


@pytest.fixture
def stack_env(stack_env: dict[str, str]) -> dict[str, str]:
    """The rollup keeper makes a pass every second, so that late readings show up quickly."""
    return {**stack_env, "PARKLOTSE_ROLLUP_INTERVAL_S": "1"}


def ns(text: str) -> int:
    return datetime_to_ns(datetime.fromisoformat(text).replace(tzinfo=UTC))


def write(servers: Servers, db: str, readings: list[tuple[str, int, int]], site: str = "showroom") -> None:
    """(bay, time_ns, occupied) as bay_status points, straight over HTTP."""
    httpx.post(f"{servers.influx_url}/query", params={"q": f'CREATE DATABASE "{db}"'}).raise_for_status()
    lines = "\n".join(f"bay_status,bay={bay},site={site} occupied={v}i {t}" for bay, t, v in readings)
    if lines:
        httpx.post(
            f"{servers.influx_url}/write", params={"db": db}, content=lines, timeout=30
        ).raise_for_status()


def get(api: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{api}/api/v1/sites/{path}", params=params, timeout=30)


def ok(api: str, path: str, **params: Any) -> Any:
    response = get(api, path, **params)
    assert response.status_code == 200, response.text
    return response.json()


def morning(t: int) -> list[tuple[str, int, int]]:
    """Two bays around ``t`` (10:00 of some day)."""
    return [
        ("A01", t - 30 * MIN, 0),
        ("A01", t + 15 * MIN, 1),
        ("A01", t + 45 * MIN, 0),
        ("A02", t, 1),  # no earlier reading: unknown until now
        ("A02", t + 30 * MIN, 1),  # a repeat
        ("A02", t + 60 * MIN, 0),
    ]


def recent_day() -> int:
    """Midnight 30 days ago: recent, so that rebuilding the rollups up to now is quick."""
    return time.time_ns() // DAY * DAY - 30 * DAY


def test_occupancy_is_time_weighted_over_the_reporting_bays(
    servers: Servers, influx_db: str, api_server: str
) -> None:
    t = recent_day() + 10 * HOUR
    write(servers, influx_db, morning(t))
    span = {"start": ns_to_rfc3339(t), "end": ns_to_rfc3339(t + HOUR)}

    data = ok(api_server, "showroom/occupancy", every="15m", source="raw", **span)
    assert data["site"] == "showroom" and data["zone"] is None
    assert data["every"] == "15m" and data["source"] == "raw"
    assert [p["time"] for p in data["points"]] == [ns_to_rfc3339(t + i * 15 * MIN) for i in range(4)]
    assert [p["occupancy"] for p in data["points"]] == [0.5, 1.0, 1.0, 0.5]
    assert [p["reporting"] for p in data["points"]] == [2, 2, 2, 2]  # the other 14 bays: unknown

    zone_a = ok(api_server, "showroom/occupancy", zone="A", every="15m", source="raw", **span)
    assert [p["occupancy"] for p in zone_a["points"]] == [0.5, 1.0, 1.0, 0.5]
    zone_b = ok(api_server, "showroom/occupancy", zone="B", every="15m", source="raw", **span)
    assert [(p["occupancy"], p["reporting"]) for p in zone_b["points"]] == [(None, 0)] * 4

    # Minutes (no rollup has them): A01 arrives at 10:15.
    minutes = ok(
        api_server,
        "showroom/occupancy",
        start=ns_to_rfc3339(t + 14 * MIN),
        end=ns_to_rfc3339(t + 16 * MIN),
        every="1m",
    )
    assert minutes["source"] == "raw"
    assert [p["occupancy"] for p in minutes["points"]] == [0.5, 1.0]
    # Before any reading every bay is unknown, never free.
    early = ok(
        api_server,
        "showroom/occupancy",
        start=ns_to_rfc3339(t - 2 * HOUR),
        end=ns_to_rfc3339(t - HOUR),
        every="30m",
        source="raw",
    )
    assert [(p["occupancy"], p["reporting"]) for p in early["points"]] == [(None, 0), (None, 0)]

    # Old readings written after the keeper's pass: once rebuilt, the 5-minute rollup agrees.
    rebuilt = httpx.post(f"{api_server}/api/v1/sites/showroom/rollup", headers=TOKEN, timeout=120)
    assert rebuilt.status_code == 200, rebuilt.text
    for zone in (None, "A", "B"):
        params = {"every": "15m", **span, **({"zone": zone} if zone else {})}
        rolled = ok(api_server, "showroom/occupancy", **params)
        assert rolled["source"] == "rollup"
        assert rolled["points"] == ok(api_server, "showroom/occupancy", source="raw", **params)["points"]


def test_turnover_counts_arrivals_and_the_rollup_agrees(
    servers: Servers, influx_db: str, api_server: str
) -> None:
    day = recent_day()
    write(
        servers,
        influx_db,
        [
            ("A01", day + 9 * HOUR, 0),
            ("A01", day + 10 * HOUR, 1),  # arrival
            ("A01", day + 10 * HOUR + 30 * MIN, 0),
            ("A01", day + 12 * HOUR, 1),  # arrival
            ("A01", day + 12 * HOUR + 30 * MIN, 1),  # a repeat, not an arrival
            ("A01", day + 13 * HOUR, 0),
            ("A02", day + 11 * HOUR, 1),  # first reading ever: when it arrived is unknown
            ("A02", day + 11 * HOUR + 30 * MIN, 0),
            ("A02", day + 14 * HOUR, 1),  # arrival
        ],
    )
    window = {"start": ns_to_rfc3339(day + 9 * HOUR), "end": ns_to_rfc3339(day + 15 * HOUR), "every": "1h"}
    raw = ok(api_server, "showroom/turnover", source="raw", **window)
    assert raw["source"] == "raw" and raw["bays"] == 16 and raw["total_arrivals"] == 3
    assert [p["arrivals"] for p in raw["points"]] == [0, 1, 0, 1, 0, 1]
    assert raw["points"][1] == {"time": ns_to_rfc3339(day + 10 * HOUR), "arrivals": 1, "per_bay": 1 / 16}
    zone_b = ok(api_server, "showroom/turnover", zone="B", source="raw", **window)
    assert zone_b["bays"] == 8 and zone_b["total_arrivals"] == 0

    # Readings written after the keeper's pass: an operator rebuilds the rollup of old data.
    rebuilt = httpx.post(f"{api_server}/api/v1/sites/showroom/rollup", headers=TOKEN, timeout=60)
    assert rebuilt.status_code == 200, rebuilt.text
    assert rebuilt.json()["start"] == ns_to_rfc3339(day + 9 * HOUR)
    rolled = ok(api_server, "showroom/turnover", source="rollup", **window)
    assert rolled["source"] == "rollup"
    assert rolled["points"] == raw["points"]
    daily = ok(api_server, "showroom/turnover", start=ns_to_rfc3339(day), end=ns_to_rfc3339(day + DAY))
    assert daily["every"] == "1d" and daily["source"] == "rollup"
    assert daily["points"] == [{"time": ns_to_rfc3339(day), "arrivals": 3, "per_bay": 3 / 16}]


def test_days_can_be_local_days(servers: Servers, influx_db: str, api_server: str) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    today = datetime.fromtimestamp(recent_day() // 1_000_000_000, tz=berlin).date()

    def local(day_offset: int, hour: int, minute: int = 0) -> int:
        moment = datetime(today.year, today.month, today.day, hour, minute, tzinfo=berlin)
        return datetime_to_ns(moment + timedelta(days=day_offset))

    # Two arrivals an hour apart, either side of local midnight: both on one UTC day, not one local day.
    write(
        servers,
        influx_db,
        [
            ("A01", local(0, 22), 0),
            ("A01", local(0, 23, 30), 1),
            ("A01", local(1, 0, 10), 0),
            ("A01", local(1, 0, 30), 1),
            ("A01", local(1, 1), 0),
        ],
    )
    span = {"start": ns_to_rfc3339(local(0, 0)), "end": ns_to_rfc3339(local(2, 0)), "source": "raw"}
    daily = ok(api_server, "showroom/turnover", tz="Europe/Berlin", **span)
    assert daily["tz"] == "Europe/Berlin" and daily["every"] == "1d"
    assert [p["time"] for p in daily["points"]] == [ns_to_rfc3339(local(0, 0)), ns_to_rfc3339(local(1, 0))]
    assert [p["arrivals"] for p in daily["points"]] == [1, 1]
    utc_days = ok(api_server, "showroom/turnover", **span)
    assert utc_days["tz"] == "UTC" and utc_days["total_arrivals"] == 2
    assert max(p["arrivals"] for p in utc_days["points"]) == 2

    occupancy = ok(api_server, "showroom/occupancy", tz="Europe/Berlin", **span)
    assert [p["time"] for p in occupancy["points"]] == [p["time"] for p in daily["points"]]
    # Day 1 (local): A01 known from 22:00, occupied 23:30-24:00 of 2 h known: 0.25.
    assert occupancy["points"][0]["occupancy"] == pytest.approx(0.25)


def test_rebuilding_the_rollup_needs_the_token(api_server: str) -> None:
    response = httpx.post(f"{api_server}/api/v1/sites/showroom/rollup", timeout=10)
    assert response.status_code == 401


def test_a_year_is_answered_from_the_rollup_with_the_same_figures_as_raw(
    servers: Servers, influx_db: str, api_server: str
) -> None:
    now_hour = time.time_ns() // HOUR * HOUR
    first = now_hour - 370 * DAY
    readings = []
    for i, bay in enumerate(("A01", "A02", "A03", "B01")):
        for k in range(370 * 4):  # a reading every 6 hours, state changing with a 12-hour rhythm
            t = first + k * 6 * HOUR + i * 7 * MIN
            readings.append((bay, t, (k // 2 + i) % 2))
    write(servers, influx_db, readings)
    rebuilt = httpx.post(f"{api_server}/api/v1/sites/showroom/rollup", headers=TOKEN, timeout=120)
    assert rebuilt.status_code == 200, rebuilt.text
    assert rebuilt.json()["hours"] >= 370 * 24

    year = {"start": ns_to_rfc3339(now_hour - 365 * DAY), "end": ns_to_rfc3339(now_hour)}
    started = time.monotonic()
    data = ok(api_server, "showroom/occupancy", **year)
    elapsed = time.monotonic() - started
    assert data["source"] == "rollup" and data["every"] == "1d"
    assert len(data["points"]) in (365, 366)
    assert elapsed < 5, f"a year took {elapsed:.1f} s"
    assert all(p["reporting"] == 4 for p in data["points"])
    assert all(0.3 < p["occupancy"] < 0.7 for p in data["points"])  # half occupied, give or take a shift

    # The same two days from the rollup and from raw readings, to the last bay-minute.
    two_days = {
        "start": ns_to_rfc3339(now_hour - 100 * DAY + 3 * HOUR),
        "end": ns_to_rfc3339(now_hour - 98 * DAY + 3 * HOUR),
        "every": "1h",
    }
    raw = ok(api_server, "showroom/occupancy", source="raw", **two_days)
    rolled = ok(api_server, "showroom/occupancy", source="rollup", **two_days)
    assert (raw["source"], rolled["source"]) == ("raw", "rollup")
    assert rolled["points"] == raw["points"]
    assert {p["occupancy"] for p in raw["points"]} - {None} != set()
    assert (
        ok(api_server, "showroom/turnover", source="rollup", **two_days)["points"]
        == ok(api_server, "showroom/turnover", source="raw", **two_days)["points"]
    )
    # Past 7 days raw readings are refused, and say why.
    refused = get(api_server, "showroom/occupancy", source="raw", every="1d", **year)
    assert refused.status_code == 422 and "7 days" in refused.json()["detail"]


def test_heatmap_picks_up_late_readings_by_itself(
    servers: Servers, influx_db: str, api_server: str, tmp_path: Path
) -> None:
    write(servers, influx_db, [])
    # The keeper's first pass finds no readings: the rollup is complete up to the current hour.
    wait_for(lambda: ok(api_server, "showroom/heatmap", weeks=1)["source"] == "rollup", 20, "a first pass")
    hour = time.time_ns() // HOUR * HOUR - 5 * HOUR  # readings arriving late, for hours already done
    write(servers, influx_db, [("A01", hour, 1), ("A01", hour + HOUR, 0), ("A02", hour, 0)])
    local = datetime.fromtimestamp(hour // 1_000_000_000, tz=UTC).astimezone(ZoneInfo("Europe/Berlin"))

    def cell() -> Any:
        data = ok(api_server, "showroom/heatmap", weeks=1)
        assert data["source"] == "rollup"
        return data if data["values"][local.weekday()][local.hour] == 0.5 else None

    data = wait_for(cell, 20, "the late readings in the heatmap")
    assert data["weekdays"] == ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"] and data["hours"] == list(range(24))
    assert data["tz"] == "Europe/Berlin" and data["weeks"] == 1 and data["source"] == "rollup"
    values = [v for row in data["values"] for v in row]
    later_hours = (ns(data["end"].rstrip("Z")) - hour) // HOUR - 1  # both bays free, carried forward
    assert values.count(0.5) == 1
    assert values.count(0.0) == later_hours
    assert values.count(None) == 168 - 1 - later_hours
    assert "readings of site showroom the rollup lacks" in (tmp_path / "api.log").read_text()
    zone_b = ok(api_server, "showroom/heatmap", weeks=1, zone="B")
    assert all(v is None for row in zone_b["values"] for v in row)


def test_dwell_time_distribution(servers: Servers, influx_db: str, api_server: str) -> None:
    start = ns("2025-03-05T09:00:00")
    write(
        servers,
        influx_db,
        [
            ("A01", start, 0),
            ("A01", start + 60 * MIN, 1),
            ("A01", start + 90 * MIN, 0),  # 30 minutes
            ("A01", start + 180 * MIN, 1),
            ("A01", start + 240 * MIN, 1),
            ("A01", start + 300 * MIN, 0),  # 120 minutes
            ("A02", start + 120 * MIN, 1),  # arrival time unknown: not a visit
            ("A02", start + 150 * MIN, 0),
            ("A02", start + 300 * MIN, 1),
            ("A02", start + 1440 * MIN, 0),  # 1140 minutes, leaving after the range
            ("A03", start, 0),
            ("A03", start + 350 * MIN, 1),  # still there
        ],
    )
    data = ok(api_server, "showroom/dwell", start="2025-03-05T09:00:00Z", end="2025-03-05T15:00:00Z")
    assert (data["visits"], data["open"]) == (3, 1)
    assert data["mean_min"] == 430 and data["median_min"] == 120
    assert [(b["from_min"], b["to_min"], b["count"]) for b in data["bins"] if b["count"]] == [
        (30, 60, 1),
        (120, 240, 1),
        (480, 1440, 1),
    ]
    zone_b = ok(
        api_server, "showroom/dwell", start="2025-03-05T09:00:00Z", end="2025-03-05T15:00:00Z", zone="B"
    )
    assert (zone_b["visits"], zone_b["mean_min"], zone_b["median_min"]) == (0, None, None)


def test_bay_timeline_collapses_repeats(servers: Servers, influx_db: str, api_server: str) -> None:
    write(servers, influx_db, morning(ns("2025-03-03T10:00:00")))
    window = {"start": "2025-03-03T10:00:00Z", "end": "2025-03-03T12:00:00Z"}
    a01 = ok(api_server, "showroom/bays/A01/timeline", **window)
    assert a01["initial"] == {"status": "free", "since": "2025-03-03T09:30:00.000Z"}
    assert a01["zone"] == "A"
    assert a01["changes"] == [
        {"time": "2025-03-03T10:15:00.000Z", "status": "occupied"},
        {"time": "2025-03-03T10:45:00.000Z", "status": "free"},
    ]
    assert (a01["truncated"], a01["next"]) == (False, None)
    a02 = ok(api_server, "showroom/bays/A02/timeline", **window)
    assert a02["initial"] == {"status": "unknown", "since": None}
    assert [c["status"] for c in a02["changes"]] == ["occupied", "free"]  # the repeat at 10:30 is gone

    page = ok(api_server, "showroom/bays/A02/timeline", limit=1, **window)
    assert len(page["changes"]) == 1 and page["truncated"] and page["next"] == "2025-03-03T11:00:00.000Z"
    rest = ok(api_server, "showroom/bays/A02/timeline", start=page["next"], end=window["end"])
    assert rest["initial"]["status"] == "occupied"
    assert rest["changes"] == [{"time": "2025-03-03T11:00:00.000Z", "status": "free"}]


def test_csv_export_streams_every_reading_in_time_order(
    servers: Servers, influx_db: str, api_server: str
) -> None:
    base = ns("2025-03-06T00:00:00")
    bays = [f"A0{i}" for i in range(1, 9)] + [f"B0{i}" for i in range(1, 5)]
    # 12 bays x 900 instants: 10,800 readings, more than a page (10,000), whose edge splits an instant.
    readings = [(bay, base + k * MIN, (k + i) % 2) for k in range(900) for i, bay in enumerate(bays)]
    write(servers, influx_db, readings)
    response = get(
        api_server, "showroom/history.csv", start="2025-03-06T00:00:00Z", end="2025-03-07T00:00:00Z"
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="showroom-history.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["time", "site", "bay", "occupied"]
    assert len(rows) == 1 + len(readings)
    assert len({(r[0], r[2]) for r in rows[1:]}) == len(readings)  # no reading twice
    assert [r[0] for r in rows[1:]] == sorted(r[0] for r in rows[1:])
    assert rows[1] == ["2025-03-06T00:00:00.000Z", "showroom", "A01", "0"]
    assert response.text.endswith("\r\n")

    zone_b = get(
        api_server, "showroom/history.csv", start="2025-03-06T00:00:00Z", end="2025-03-06T00:02:00Z", zone="B"
    )
    lines = zone_b.text.splitlines()
    assert len(lines) == 1 + 2 * 4 and all(",B0" in line for line in lines[1:])
    assert 'filename="showroom-B-history.csv"' in zone_b.headers["content-disposition"]


BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("showroom/occupancy", {"tz": "Europe/Kiel"}, 422, "tz='Europe/Kiel' is not a known IANA time zone"),
    ("showroom/occupancy", {"tz": "Europe/Berlin", "every": "6h"}, 422, "every must be whole days"),
    ("showroom/turnover", {"tz": "Asia/Kolkata"}, 422, "whole hours"),
    ("nowhere/heatmap", {}, 404, "site 'nowhere' is not known"),
    ("nowhere/history.csv", {}, 404, "site 'nowhere' is not known"),
    ("showroom/dwell", {"zone": "Q"}, 404, "zone 'Q' is not known in site 'showroom' (zones: A, B)"),
    ("showroom/bays/A01%7C.*/timeline", {}, 422, "path.bay"),
    ("nowhere/occupancy", {}, 404, "site 'nowhere' is not known"),
    ("showroom/bays/Z99/timeline", {}, 404, "bay 'Z99' is not known in site 'showroom'"),
    ("showroom/occupancy", {"zone": "Q"}, 404, "zone 'Q' is not known in site 'showroom'"),
    (
        "showroom/occupancy",
        {"start": "2025-03-03T11:00:00Z", "end": "2025-03-03T10:00:00Z"},
        422,
        "end (2025-03-03T10:00:00.000Z) must be after start (2025-03-03T11:00:00.000Z)",
    ),
    ("showroom/occupancy", {"start": "2025-03-03T10:00:00"}, 422, "timezone"),
    ("showroom/occupancy", {"start": "yesterday"}, 422, "query.start"),
    ("showroom/occupancy", {"every": "0m"}, 422, "every"),
    ("showroom/occupancy", {"every": "8d"}, 422, "between 1m and 7d"),
    (
        "showroom/occupancy",
        {"start": "2024-01-01T00:00:00Z", "end": "2025-06-01T00:00:00Z"},
        422,
        "400 days",
    ),
    (
        "showroom/occupancy",
        {"start": "2025-03-01T00:00:00Z", "end": "2025-03-07T00:00:00Z", "every": "1m"},
        422,
        "5000",
    ),
    (
        "showroom/occupancy",
        {"start": "2025-03-01T00:00:00Z", "end": "2025-03-20T00:00:00Z", "every": "7m"},
        422,
        "whole 5 minutes",
    ),
    ("showroom/occupancy", {"source": "later"}, 422, "query.source"),
    (
        "showroom/occupancy",
        {"start": "9999-01-01T00:00:00Z", "end": "9999-01-02T00:00:00Z"},
        422,
        "2200-01-01",
    ),
    ("showroom/heatmap", {"weeks": 0}, 422, "query.weeks"),
    ("showroom/heatmap", {"weeks": 53}, 422, "query.weeks"),
    ("showroom/bays/A01/timeline", {"limit": 10001}, 422, "query.limit"),
    (
        "showroom/dwell",
        {"start": "2025-01-01T00:00:00Z", "end": "2025-03-01T00:00:00Z"},
        422,
        "at most 31 days",
    ),
    ("showroom/turnover", {"every": "1x"}, 422, "query.every"),
    (
        "showroom/history.csv",
        {"start": "2025-01-01T00:00:00Z", "end": "2023-01-01T00:00:00Z"},
        422,
        "after start",
    ),
]


def test_bad_requests_say_why(api_server: str) -> None:
    """Every parameter is typed and bounded: a 404 or 422 naming the problem, never a 500."""
    wrong = []
    for path, params, status, says in BAD_REQUESTS:
        response = get(api_server, path, **params)
        if response.status_code != status or says not in response.json().get("detail", ""):
            wrong.append((path, params, response.status_code, response.text))
    assert wrong == []


def test_influxdb_down_is_a_503_not_a_500(stack_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    env = {**stack_env, "PARKLOTSE_INFLUX_URL": f"http://127.0.0.1:{free_port()}"}
    service = Service("api-no-db", ["api", "--port", str(port)], env, tmp_path / "api-no-db.log").start()
    api = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(f"{api}/healthz") or not service.alive(), 20, "API without InfluxDB")
        assert service.alive(), service.output()
        for path in [
            "showroom/occupancy",
            "showroom/turnover",
            "showroom/dwell",
            "showroom/bays/A01/timeline",
            "showroom/history.csv",
        ]:
            response = get(api, path)
            assert response.status_code == 503, (path, response.text)
            assert "InfluxDB" in response.json()["detail"] and response.headers["retry-after"]
        # The heatmap needs the rollup, which could not be read either.
        assert get(api, "showroom/heatmap").status_code == 503
    finally:
        service.stop()
    assert "Traceback" not in service.output()
