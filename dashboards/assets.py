"""The pages' plotly.js: a partial bundle of plotly.js 4.1.1 with only the traces they draw.

The kiosk draws ``scatter`` and ``heatmap`` traces, the sensors page ``bar`` and ``scatter``. Most of a
cold kiosk start is the browser compiling and setting up plotly.js, and plotly.js sets up every trace
type it carries, so the bundle carries only these three (1.0 MB; the cartesian dist bundle 1.5 MB,
the plotly package's full one 4.8 MB). It is built from the npm packages pinned in
``dashboards/plotly/`` by ``dashboards/plotly/build.sh`` and kept in the repository and the wheel with
its sha256, so neither set-up nor the running API needs the network. If the kept file is missing or
not the recorded build, the API serves the plotly package's full bundle instead (and says so).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "plotly"
BUNDLE = FOLDER / "plotly-kiosk.min.js"


class AssetError(Exception):
    pass


def recorded_sha256(bundle: Path) -> str:
    """The sha256 that build.sh recorded beside ``bundle`` (``sha256sum`` format)."""
    record = bundle.with_name(f"{bundle.name}.sha256")
    try:
        fields = record.read_text().split()
    except OSError as exc:
        raise AssetError(f"no recorded sha256 for {bundle.name}: {exc}") from exc
    if len(fields) != 2 or fields[1].lstrip("*") != bundle.name or len(fields[0]) != 64:
        raise AssetError(f"{record} is not a sha256sum line for {bundle.name}")
    return fields[0]


def verified(bundle: Path = BUNDLE) -> bytes:
    """The bundle's bytes; AssetError if it is missing or not the build whose sha256 is recorded."""
    expected = recorded_sha256(bundle)
    try:
        content = bundle.read_bytes()
    except OSError as exc:
        raise AssetError(f"cannot read {bundle}: {exc}") from exc
    actual = hashlib.sha256(content).hexdigest()
    if actual != expected:
        raise AssetError(f"{bundle} has sha256 {actual}, the recorded build {expected}")
    return content
