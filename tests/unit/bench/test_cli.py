"""Every benchmark is started the way the README says: ``python -m bench NAME [options]``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import BENCHES

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", BENCHES)
def test_each_benchmark_takes_its_options_through_the_common_command(name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", name, "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
