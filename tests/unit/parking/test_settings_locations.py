"""Where site files and state are found: the documented order, never the installed package's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.settings import IngestSettings
from parking.settings import PACKAGED_SITES_DIR, CommonSettings


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A current folder outside the checkout, with no PARKLOTSE_SITES_DIR set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARKLOTSE_SITES_DIR", raising=False)
    return tmp_path


def test_without_any_setting_the_packaged_sample_sites_are_used(elsewhere: Path) -> None:
    assert CommonSettings().sites_dir == PACKAGED_SITES_DIR


def test_a_sites_folder_in_the_current_folder_comes_before_the_samples(elsewhere: Path) -> None:
    (elsewhere / "sites").mkdir()
    assert CommonSettings().sites_dir == elsewhere / "sites"


def test_the_environment_comes_before_the_current_folder(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (elsewhere / "sites").mkdir()
    monkeypatch.setenv("PARKLOTSE_SITES_DIR", "/srv/town/sites")
    assert CommonSettings().sites_dir == Path("/srv/town/sites")


def test_the_flag_comes_before_the_environment(elsewhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARKLOTSE_SITES_DIR", "/srv/town/sites")
    assert CommonSettings(sites_dir=Path("/opt/other")).sites_dir == Path("/opt/other")


def test_a_file_named_sites_is_not_a_sites_folder(elsewhere: Path) -> None:
    (elsewhere / "sites").write_text("not a folder")
    assert CommonSettings().sites_dir == PACKAGED_SITES_DIR


def test_the_ingesters_state_defaults_to_dot_run_in_the_current_folder(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PARKLOTSE_SPOOL_DIR", raising=False)
    monkeypatch.delenv("PARKLOTSE_DEADLETTER_DIR", raising=False)
    settings = IngestSettings()
    assert settings.spool_dir == elsewhere / ".run" / "ingest" / "spool"
    assert settings.deadletter_dir == elsewhere / ".run" / "ingest" / "deadletter"
