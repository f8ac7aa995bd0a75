"""The pages' plotly.js: the committed partial bundle is used only if it is the build recorded beside it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dashboards.assets import BUNDLE, AssetError, recorded_sha256, verified

SCRIPT = (
    b"/**\n* plotly.js (parklotse kiosk: scatter, bar, heatmap - minified) v4.1.1\n*/\nvar Plotly = {};\n"
)


def _keep(folder: Path, content: bytes, recorded: bytes | None = None) -> Path:
    bundle = folder / "plotly-kiosk.min.js"
    bundle.write_bytes(content)
    digest = hashlib.sha256(content if recorded is None else recorded).hexdigest()
    (folder / "plotly-kiosk.min.js.sha256").write_text(f"{digest}  plotly-kiosk.min.js\n")
    return bundle


def test_the_committed_bundle_is_the_recorded_build_of_plotly_js_4_1_1() -> None:
    content = verified(BUNDLE)
    assert b"plotly.js (parklotse kiosk: scatter, bar, heatmap - minified) v4.1.1" in content[:200]
    assert BUNDLE.with_name("plotly-kiosk.min.js.LICENSE").read_text().startswith("MIT License")


def test_a_bundle_with_the_recorded_sha256_is_used(tmp_path: Path) -> None:
    assert verified(_keep(tmp_path, SCRIPT)) == SCRIPT


def test_a_bundle_changed_after_the_build_is_refused(tmp_path: Path) -> None:
    bundle = _keep(tmp_path, SCRIPT + b"tampered", recorded=SCRIPT)
    with pytest.raises(AssetError, match="the recorded build"):
        verified(bundle)


def test_a_missing_bundle_is_refused(tmp_path: Path) -> None:
    bundle = _keep(tmp_path, SCRIPT)
    bundle.unlink()
    with pytest.raises(AssetError, match="cannot read"):
        verified(bundle)


def test_a_bundle_without_a_recorded_sha256_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "plotly-kiosk.min.js"
    bundle.write_bytes(SCRIPT)
    with pytest.raises(AssetError, match="no recorded sha256"):
        verified(bundle)


def test_a_record_for_another_file_is_refused(tmp_path: Path) -> None:
    bundle = _keep(tmp_path, SCRIPT)
    (tmp_path / "plotly-kiosk.min.js.sha256").write_text(f"{'0' * 64}  plotly.min.js\n")
    with pytest.raises(AssetError, match="not a sha256sum line"):
        recorded_sha256(bundle)
