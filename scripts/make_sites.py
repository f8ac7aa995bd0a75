"""Generate the sample sites shipped in parking/sample_sites/ (deterministic; run again after a change).

town-centre: a synthetic small-town centre, 6 x 6 street grid with 100 m block faces around a market
square, 12 on-street bays per block face (6 a side), about 720 bays (docs/research.md §6.1).
showroom: the model car park on the showroom table, which is one block face of the town centre: both
sides of Marktstraße between Mühlenweg and Am Markt, at the market square's corner, 8 bays a side. The
face is in both files: as TC-… bays of town-centre (the bays the town model drives past) and as
A01…A08 (south side, west to east) and B01…B08 (north side) of showroom, each naming its town bay in
``town_bay``; the showroom site says ``"part_of": "town-centre"``. One live simulator publishes both
(docs/simulator.md, "The showroom table"). The town keeps its 720 bays: the Nordring face in the
north-east corner has 4 bays a side (a bus stop takes the rest), and the showroom face's extra bays take
the numbers that frees, so no other bay id or LoRaWAN binding changes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SITES = Path(__file__).resolve().parent.parent / "parking" / "sample_sites"
M_PER_DEG_LAT = 111_320.0


def _to_wgs84(x: float, y: float, lon0: float, lat0: float) -> list[float]:
    lon = lon0 + x / (M_PER_DEG_LAT * math.cos(math.radians(lat0)))
    lat = lat0 + y / M_PER_DEG_LAT
    return [round(lon, 7), round(lat, 7)]


GRID, BLOCK_M, PER_SIDE = 6, 100.0, 6
LON0, LAT0 = 9.37, 53.92
ROWS = ["Südring", "Kirchenstraße", "Marktstraße", "Rathausstraße", "Schulstraße", "Nordring"]
COLS = ["Westring", "Mühlenweg", "Am Markt", "Große Straße", "Hafenstraße", "Ostring"]
MARKET = {("h", 2, 2), ("h", 2, 3), ("v", 2, 2), ("v", 3, 2)}
SHOWROOM_FACE, SHOWROOM_PER_SIDE = ("h", 1, 2), 8
SHORT_FACE, SHORT_PER_SIDE = ("h", 4, 5), 4
KERB_M = 5.0  # bay centre from the street's centre line

Face = tuple[str, int, int]


@dataclass(frozen=True)
class TownBay:
    number: int
    face: Face
    side: int  # -1: right of the face's direction (south of an east-west face), +1: left
    k: int  # position along the face, from its first junction
    along_m: float
    zone: str
    street: str


def _faces() -> list[Face]:
    faces = [("h", i, j) for j in range(GRID) for i in range(GRID - 1)]
    return faces + [("v", i, j) for i in range(GRID) for j in range(GRID - 1)]


def _zone(face: Face) -> str:
    axis, i, j = face
    centre = (GRID - 1) * BLOCK_M / 2
    dx, dy = (1.0, 0.0) if axis == "h" else (0.0, 1.0)
    mid_x, mid_y = i * BLOCK_M + dx * BLOCK_M / 2 - centre, j * BLOCK_M + dy * BLOCK_M / 2 - centre
    if face in MARKET:
        return "Markt"
    if math.hypot(mid_x, mid_y) <= 160:
        return "Innenstadt"
    if abs(mid_y) >= abs(mid_x):
        return "Nord" if mid_y > 0 else "Süd"
    return "Ost" if mid_x > 0 else "West"


def town_bays() -> list[TownBay]:
    """Every bay of the town, numbered as 12 slots per face in face order (see the module text)."""
    faces = _faces()
    short = faces.index(SHORT_FACE)
    freed = [short * 12 + s * PER_SIDE + k + 1 for s in range(2) for k in range(SHORT_PER_SIDE, PER_SIDE)]
    bays: list[TownBay] = []
    for index, face in enumerate(faces):
        per_side = {SHOWROOM_FACE: SHOWROOM_PER_SIDE, SHORT_FACE: SHORT_PER_SIDE}.get(face, PER_SIDE)
        spacing = 16.0 if per_side <= PER_SIDE else 84.0 / (per_side - 1)
        first = 10.0 if per_side <= PER_SIDE else 8.0
        street = ROWS[face[2]] if face[0] == "h" else COLS[face[1]]
        for s, side in enumerate((-1, 1)):
            for k in range(per_side):
                number = index * 12 + s * PER_SIDE + k + 1 if k < PER_SIDE else freed.pop(0)
                bays.append(TownBay(number, face, side, k, first + k * spacing, _zone(face), street))
    return bays


def _town_xy(face: Face, along: float, offset: float) -> tuple[float, float]:
    """Metres east and north of the market square's centre."""
    axis, i, j = face
    dx, dy = (1.0, 0.0) if axis == "h" else (0.0, 1.0)
    centre = (GRID - 1) * BLOCK_M / 2
    return i * BLOCK_M + dx * along - dy * offset - centre, j * BLOCK_M + dy * along + dx * offset - centre


def _town_pos(x: float, y: float) -> list[float]:
    return _to_wgs84(x, y, LON0, LAT0)


def _bay_id(number: int) -> str:
    return f"TC-{number:04d}"


def town_centre() -> dict[str, Any]:
    last = (GRID - 1) * BLOCK_M

    def node(x: float, y: float) -> list[float]:
        return _town_pos(x - last / 2, y - last / 2)

    features: list[dict[str, Any]] = []
    for j, name in enumerate(ROWS):
        features.append(_street(name, [node(0, j * BLOCK_M), node(last, j * BLOCK_M)]))
    for i, name in enumerate(COLS):
        features.append(_street(name, [node(i * BLOCK_M, 0), node(i * BLOCK_M, last)]))
    for bay in town_bays():
        axis, i, j = bay.face
        props: dict[str, Any] = {
            "bay": _bay_id(bay.number),
            "zone": bay.zone,
            "street": bay.street,
            "segment": f"{axis}-{i}-{j}",
            "side": "left" if bay.side < 0 else "right",
        }
        if bay.zone == "Markt":
            # The market bays carry real-style LoRaWAN bindings so the ChirpStack path is exercised.
            props["dev_eui"] = f"70b3d5e75e{bay.number:06x}"
            props["codec"] = "bosch-pls"
        x, y = _town_xy(bay.face, bay.along_m, bay.side * KERB_M)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": _town_pos(x, y)},
                "properties": props,
            }
        )
    return {
        "type": "FeatureCollection",
        "site": {
            "id": "town-centre",
            "name": "Musterstadt Innenstadt",
            "description": (
                "Synthetic small-town centre: 6x6 street grid, 100 m blocks, market square in the middle."
            ),
            "destination": _town_pos(0.0, 0.0),
            "grid": {"nodes": GRID, "block_m": BLOCK_M, "origin": node(0, 0)},
        },
        "features": features,
    }


def showroom() -> dict[str, Any]:
    """The table: the showroom face's 16 town bays as parallel bays 5.5 m x 2.5 m, two rows of 8."""
    length, depth = 5.5, 2.5
    face_bays = [b for b in town_bays() if b.face == SHOWROOM_FACE]
    start, end = _town_xy(SHOWROOM_FACE, 0.0, 0.0), _town_xy(SHOWROOM_FACE, BLOCK_M, 0.0)
    features: list[dict[str, Any]] = [_street(ROWS[SHOWROOM_FACE[2]], [_town_pos(*start), _town_pos(*end)])]
    for row, (zone, side) in enumerate((("A", -1), ("B", 1))):
        for bay in sorted((b for b in face_bays if b.side == side), key=lambda b: b.k):
            near, far = side * (KERB_M - depth / 2), side * (KERB_M + depth / 2)
            a0, a1 = bay.along_m - length / 2, bay.along_m + length / 2
            ring = [(a0, near), (a1, near), (a1, far), (a0, far), (a0, near)]
            number = row * SHOWROOM_PER_SIDE + bay.k + 1
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[_town_pos(*_town_xy(SHOWROOM_FACE, a, o)) for a, o in ring]],
                    },
                    "properties": {
                        "bay": f"{zone}{bay.k + 1:02d}",
                        "zone": zone,
                        "device_id": f"showroom-pls-{number:02d}",
                        "codec": "bosch-pls",
                        "row": row,
                        "town_bay": _bay_id(bay.number),
                    },
                }
            )
    middle = _town_xy(SHOWROOM_FACE, BLOCK_M / 2, 0.0)
    return {
        "type": "FeatureCollection",
        "site": {
            "id": "showroom",
            "name": "Showroom-Parkplatz",
            "description": (
                "Model car park on the showroom table: 16 bays with Bosch PLS sensors, one block face of the"
                " town centre (Marktstraße at the market square), 8 bays a side."
            ),
            "destination": _town_pos(*middle),
            "part_of": "town-centre",
        },
        "features": features,
    }


def _street(name: str, coordinates: list[list[float]]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": coordinates},
        "properties": {"kind": "street", "name": name},
    }


def main() -> None:
    SITES.mkdir(exist_ok=True)
    for name, document in (("town-centre", town_centre()), ("showroom", showroom())):
        path = SITES / f"{name}.geojson"
        path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        bays = sum(1 for f in document["features"] if "bay" in f["properties"])
        print(f"wrote {path} ({bays} bays)")


if __name__ == "__main__":
    main()
