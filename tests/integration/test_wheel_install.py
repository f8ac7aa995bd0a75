"""``pip install`` of the wheel (not editable) works from any folder: samples, scenarios, kiosk and all.

The wheel is built once from the checkout's package folders (copied, so no build/ folder of the
checkout is used or left behind) and installed without its dependencies into a fresh venv outside
the checkout. The dependencies come from the test environment's own site-packages, appended to the
new venv's path by a .pth file: that keeps the test fast and offline, while every Parklotse module,
data file and console script comes from the installed wheel (checked, not assumed).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import httpx
import pytest

from bench import compiled_core
from parking.processes import stop_process
from parklotse.servers import free_port
from tests.conftest import Servers, _healthy
from tests.helpers import REPO, wait_for

pytestmark = pytest.mark.integration


def packaged_folders() -> list[Path]:
    """The top-level package folders pyproject.toml's package search includes."""
    return compiled_core.packaged_folders(REPO)


@dataclass(frozen=True)
class Installed:
    venv: Path
    wheel: Path
    elsewhere: Path  # an empty folder outside the checkout, the commands' current folder

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PARKLOTSE_") and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
        }
        return {**env, "PATH": f"{self.bin}{os.pathsep}{env.get('PATH', '')}", **extra}

    def run(self, *argv: str, timeout_s: float = 120, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "parklotse"), *argv],
            cwd=self.elsewhere,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )


def build_wheel(source: Path, dist: Path, **env: str) -> Path:
    """The wheel of ``source``, built as ``pip wheel`` builds it, into ``dist``.

    No build isolation: the test environment's setuptools (dev extra) builds it, no download.
    """
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=900,  # mypyc and gcc compile the simulator core: one to two minutes, more on a busy machine
        env={**os.environ, **env},
    )
    (wheel,) = dist.glob("parklotse-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    compiled_core.copy_build_tree(REPO, source)
    wheel = build_wheel(source, root / "dist")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The dependencies, after the venv's own site-packages (a .pth line only appends to sys.path;
    # the editable install's finder there is not run, so the checkout stays out of reach).
    (purelib / "test-dependencies.pth").write_text("\n".join(_dependency_dirs()) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return Installed(venv, wheel, elsewhere)


def _dependency_dirs() -> list[str]:
    dirs = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    return sorted(d for d in dirs if Path(d).is_dir())


def test_the_wheel_carries_the_sample_sites_scenarios_and_kiosk_files(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    expected = {
        "parking/sample_sites/showroom.geojson",
        "parking/sample_sites/town-centre.geojson",
        *(f"simulator/scenarios/{p.name}" for p in (REPO / "simulator" / "scenarios").glob("*.json")),
        *(f"dashboards/static/{p.name}" for p in (REPO / "dashboards" / "static").iterdir() if p.is_file()),
        *(f"dashboards/plotly/plotly-kiosk.min.js{end}" for end in ("", ".sha256", ".LICENSE")),
    }
    assert expected - names == set()


def module_files(installed: Installed, modules: list[str]) -> list[str]:
    """Where the installed venv's Python imports these modules from."""
    result = subprocess.run(
        [
            str(installed.bin / "python"),
            "-c",
            "import importlib, sys; "
            "print('\\n'.join(importlib.import_module(m).__file__ for m in sys.argv[1:]))",
            *modules,
        ],
        cwd=installed.elsewhere,
        env=installed.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def test_the_installed_modules_come_from_the_wheel_not_the_checkout(installed: Installed) -> None:
    for path in module_files(installed, [folder.name for folder in packaged_folders()]):
        assert Path(path).is_relative_to(installed.venv), path


def compiled_modules() -> list[str]:
    """The modules setup.py compiles (its COMPILED list of paths), as module names."""
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    (paths,) = (
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "COMPILED" for t in node.targets)
    )
    return [path.removesuffix(".py").replace("/", ".") for path in paths]


def test_the_wheel_carries_the_simulator_core_compiled(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    for module in compiled_modules():
        stem = module.replace(".", "/")
        assert any(fnmatch(name, f"{stem}.cpython-*.so") for name in names), module
    files = module_files(installed, compiled_modules())
    assert all(path.endswith(".so") for path in files), files


def test_an_in_tree_build_leaves_out_what_an_earlier_build_left_in_build_lib(tmp_path: Path) -> None:
    source = tmp_path / "source"
    compiled_core.copy_build_tree(REPO, source)
    leftover = source / "build" / "lib" / "simulator" / "renamed_long_ago.py"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("x = 1\n")
    # pure: the packing is the point, not the compiler
    wheel = build_wheel(source, tmp_path / "dist", PARKLOTSE_PURE_PYTHON="1")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "simulator/engine.py" in names
    assert "simulator/renamed_long_ago.py" not in names


def test_the_compiled_core_simulates_exactly_what_the_source_does(
    installed: Installed, tmp_path: Path
) -> None:
    argv = [
        "simulate", "--offline", "--scenario", "town-centre", "--days", "1", "--seed", "3", "--no-progress",
        "--steering", "both", "--guidance-share", "0.5", "--report-json", "report.json",
    ]  # fmt: skip
    compiled = installed.run(*argv)
    assert compiled.returncode == 0, compiled.stderr
    source = subprocess.run(
        [sys.executable, "-m", "parklotse", *argv],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("PARKLOTSE_")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert source.returncode == 0, source.stderr
    from_wheel = json.loads((installed.elsewhere / "report.json").read_text())
    from_source = json.loads((tmp_path / "report.json").read_text())
    for key in ("variants", "saved"):
        assert from_wheel[key] == from_source[key], key


def test_an_offline_simulation_runs_from_any_folder(installed: Installed) -> None:
    result = installed.run(
        "simulate", "--offline", "--scenario", "town-centre", "--days", "1", "--no-progress",
        "--report-json", "report.json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((installed.elsewhere / "report.json").read_text())
    assert report["variants"], report


def test_check_sites_finds_the_packaged_samples_from_any_folder(installed: Installed) -> None:
    result = installed.run("check-sites")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"showroom (Showroom-Parkplatz) from {installed.venv}" in result.stdout
    assert "town-centre" in result.stdout


def test_a_sites_folder_in_the_current_folder_is_used_before_the_samples(
    installed: Installed, tmp_path: Path
) -> None:
    own = tmp_path / "town"
    (own / "sites").mkdir(parents=True)
    shutil.copy2(REPO / "parking" / "sample_sites" / "showroom.geojson", own / "sites" / "only.geojson")
    result = subprocess.run(
        [str(installed.bin / "parklotse"), "check-sites"],
        cwd=own,
        env=installed.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "only.geojson" in result.stdout and "town-centre" not in result.stdout


def test_the_api_serves_the_kiosk_and_the_sites_from_the_installed_package(
    installed: Installed, servers: Servers, influx_db: str
) -> None:
    port = free_port()
    log = installed.elsewhere / "api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(installed.bin / "parklotse"), "api", "--port", str(port)],
            cwd=installed.elsewhere,
            env=installed.env(
                PARKLOTSE_MQTT_URL=servers.mqtt_url,
                PARKLOTSE_INFLUX_URL=servers.influx_url,
                PARKLOTSE_INFLUX_DB=influx_db,
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(f"{url}/readyz") or process.poll() is not None, 60, "installed API ready")
        assert process.poll() is None, log.read_text()
        page = httpx.get(f"{url}/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        sites = httpx.get(f"{url}/api/v1/sites", timeout=10)
        assert sites.status_code == 200, sites.text
        assert {"showroom", "town-centre"} <= {s["id"] for s in sites.json()}
        for name in ("kiosk.js", "kiosk.css"):
            assert httpx.get(f"{url}/static/{name}", timeout=10).status_code == 200, name
        script = httpx.get(f"{url}/static/plotly.min.js", headers={"Accept-Encoding": "identity"}, timeout=30)
        # The wheel's partial bundle, as installed (not the plotly package's full one, not the network).
        bundles = list(installed.venv.rglob("dashboards/plotly/plotly-kiosk.min.js"))
        assert script.status_code == 200 and len(bundles) == 1
        assert script.content == bundles[0].read_bytes()
    finally:
        stop_process(process, 30)
