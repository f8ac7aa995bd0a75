"""How to start Debian's Chromium headless on a machine without internet (browser tests, bench kiosk).

Without the background-networking flags Chromium keeps trying to reach Google's hosts, which a
closed network refuses, many connections at a time.
"""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("PARKLOTSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
