"""The parklotse command: subcommands, and clear errors instead of tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from parklotse.cli import build_parser, main


def test_there_is_one_command_with_the_four_subcommands() -> None:
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    assert set(subcommands) >= {"ingest", "api", "simulate", "demo"}  # type: ignore[arg-type]


def test_a_bad_setting_is_reported_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api", "--mqtt-url", "http://nope"]) == 2
    err = capsys.readouterr().err
    assert "invalid setting mqtt_url" in err and "Traceback" not in err


def test_a_missing_sites_folder_is_reported(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    assert main(["simulate", "--sites-dir", "/nonexistent/sites"]) == 2
    assert "sites folder does not exist" in capsys.readouterr().err


def test_python_dash_m_runs_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "parklotse", "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0 and "demo" in result.stdout
