"""Generate the sample sites shipped in parking/sample_sites/ (deterministic; run again after a change).

town-centre: a synthetic small-town centre, 6 x 6 street grid with 100 m block faces around a market
square, 12 on-street bays per block face (6 a side), about 720 bays (parking-search.md §6.1).
showroom: a model car park of 16 bays in two rows, like the one on the showroom table.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

SITES = Path(__file__).resolve().parent.parent / "parking" / "sample_sites"
M_PER_DEG_LAT = 111_320.0


def _to_wgs84(x: float, y: float, lon0: float, lat0: float) -> list[float]:
    lon = lon0 + x / (M_PER_DEG_LAT * math.cos(math.radians(lat0)))
    lat = lat0 + y / M_PER_DEG_LAT
    return [round(lon, 7), round(lat, 7)]


def town_centre() -> dict[str, Any]:
    grid, block, per_side = 6, 100.0, 6
    centre = (grid - 1) * block / 2
    lat0, lon0 = 53.92, 9.37
    rows = ["Südring", "Kirchenstraße", "Marktstraße", "Rathausstraße", "Schulstraße", "Nordring"]
    cols = ["Westring", "Mühlenweg", "Am Markt", "Große Straße", "Hafenstraße", "Ostring"]

    def pos(x: float, y: float) -> list[float]:
        return _to_wgs84(x - centre, y - centre, lon0, lat0)

    features: list[dict[str, Any]] = []
    for j, name in enumerate(rows):
        features.append(_street(name, [pos(0, j * block), pos((grid - 1) * block, j * block)]))
    for i, name in enumerate(cols):
        features.append(_street(name, [pos(i * block, 0), pos(i * block, (grid - 1) * block)]))

    market = {("h", 2, 2), ("h", 2, 3), ("v", 2, 2), ("v", 3, 2)}
    number = 0
    segments = [("h", i, j) for j in range(grid) for i in range(grid - 1)]
    segments += [("v", i, j) for i in range(grid) for j in range(grid - 1)]
    for axis, i, j in segments:
        x0, y0 = i * block, j * block
        dx, dy = (1.0, 0.0) if axis == "h" else (0.0, 1.0)
        mid_x, mid_y = x0 + dx * block / 2 - centre, y0 + dy * block / 2 - centre
        if (axis, i, j) in market:
            zone = "Markt"
        elif math.hypot(mid_x, mid_y) <= 160:
            zone = "Innenstadt"
        elif abs(mid_y) >= abs(mid_x):
            zone = "Nord" if mid_y > 0 else "Süd"
        else:
            zone = "Ost" if mid_x > 0 else "West"
        street = rows[j] if axis == "h" else cols[i]
        for side in (-1, 1):
            for k in range(per_side):
                number += 1
                along = 10 + k * 16.0
                x = x0 + dx * along - dy * side * 5.0
                y = y0 + dy * along + dx * side * 5.0
                props: dict[str, Any] = {
                    "bay": f"TC-{number:04d}",
                    "zone": zone,
                    "street": street,
                    "segment": f"{axis}-{i}-{j}",
                    "side": "left" if side < 0 else "right",
                }
                if zone == "Markt":
                    # The market bays carry real-style LoRaWAN bindings so the ChirpStack path is exercised.
                    props["dev_eui"] = f"70b3d5e75e{number:06x}"
                    props["codec"] = "bosch-pls"
                features.append(
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": pos(x, y)},
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
            "destination": pos(centre, centre),
            "grid": {"nodes": grid, "block_m": block, "origin": pos(0, 0)},
        },
        "features": features,
    }


def showroom() -> dict[str, Any]:
    lat0, lon0 = 54.3213, 10.1349
    width, depth, aisle = 2.5, 5.0, 6.0
    features: list[dict[str, Any]] = [
        _street(
            "Fahrgasse",
            [
                _to_wgs84(-1.0, depth + aisle / 2, lon0, lat0),
                _to_wgs84(8 * width + 1.0, depth + aisle / 2, lon0, lat0),
            ],
        )
    ]
    number = 0
    for row, zone, y0 in ((0, "A", 0.0), (1, "B", depth + aisle)):
        for k in range(8):
            number += 1
            x0 = k * width
            ring = [(x0, y0), (x0 + width, y0), (x0 + width, y0 + depth), (x0, y0 + depth), (x0, y0)]
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[_to_wgs84(x, y, lon0, lat0) for x, y in ring]],
                    },
                    "properties": {
                        "bay": f"{zone}{k + 1:02d}",
                        "zone": zone,
                        "device_id": f"showroom-pls-{number:02d}",
                        "codec": "bosch-pls",
                        "row": row,
                    },
                }
            )
    return {
        "type": "FeatureCollection",
        "site": {
            "id": "showroom",
            "name": "Showroom-Parkplatz",
            "description": (
                "Model car park on the showroom table: 16 bays in two rows with Bosch PLS sensors."
            ),
            "destination": _to_wgs84(4 * width, depth + aisle / 2, lon0, lat0),
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
