"""The kiosk's plotly.js bundle: fetched from the npm registry, kept only if its hash is the pinned one."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from dashboards.assets import PLOTLY_CARTESIAN, AssetError, kept, unpack, verify

SCRIPT = b"/**\n* plotly.js (cartesian - minified) v4.1.1\n*/\nvar Plotly = {};\n"


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def test_a_tarball_with_the_pinned_hash_passes() -> None:
    data = b"any bytes"
    verify(data, _integrity(data))


def test_a_tarball_with_another_hash_is_refused() -> None:
    with pytest.raises(AssetError, match="integrity mismatch"):
        verify(b"tampered", _integrity(b"original"))


def test_an_unknown_hash_algorithm_is_refused() -> None:
    with pytest.raises(AssetError, match="unsupported integrity algorithm 'md5'"):
        verify(b"x", "md5-abc")


def test_unpacking_keeps_the_script_and_its_licence() -> None:
    tarball = _tarball(
        {"package/plotly-cartesian.min.js": SCRIPT, "package/LICENSE": b"MIT", "package/README.md": b"r"}
    )
    spec = replace(PLOTLY_CARTESIAN, integrity=_integrity(tarball))
    assert unpack(tarball, spec) == {
        "plotly-cartesian.min.js": SCRIPT,
        "plotly-cartesian.min.js.LICENSE": b"MIT",
    }


def test_a_tarball_without_the_script_is_refused() -> None:
    tarball = _tarball({"package/LICENSE": b"MIT"})
    spec = replace(PLOTLY_CARTESIAN, integrity=_integrity(tarball))
    with pytest.raises(AssetError, match=r"lacks plotly-cartesian\.min\.js"):
        unpack(tarball, spec)


def test_a_kept_script_of_the_pinned_release_is_used(tmp_path: Path) -> None:
    (tmp_path / "plotly-cartesian.min.js").write_bytes(SCRIPT)
    assert kept(PLOTLY_CARTESIAN, tmp_path) == tmp_path / "plotly-cartesian.min.js"


def test_a_kept_script_of_another_release_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "plotly-cartesian.min.js").write_bytes(SCRIPT.replace(b"4.1.1", b"3.0.0"))
    assert kept(PLOTLY_CARTESIAN, tmp_path) is None


def test_no_kept_script_means_none(tmp_path: Path) -> None:
    assert kept(PLOTLY_CARTESIAN, tmp_path) is None
