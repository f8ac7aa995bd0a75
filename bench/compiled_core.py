"""The simulator as ``pip install .`` installs it (its core compiled by mypyc, setup.py), for the bench.

The checkout runs pure Python (``./run.sh`` installs it editable). To measure what a wheel runs, the
bench builds the wheel once per version of the sources (about a minute and a half of gcc), installs it
without dependencies into ``build/bench-compiled/<hash>/`` and puts that folder first on a case's
``sys.path`` (PARKLOTSE_BENCH_SITE). The source and the compiled core are then measured in one run.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
from fnmatch import fnmatch
from pathlib import Path

ENV = "PARKLOTSE_BENCH_SITE"


BUILD_FILES = ("pyproject.toml", "setup.py", "README.md")


def packaged_folders(repo: Path) -> list[Path]:
    """The top-level package folders pyproject.toml's package search includes."""
    config = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return [
        folder
        for folder in sorted(repo.iterdir())
        if (folder / "__init__.py").is_file() and any(fnmatch(folder.name, p) for p in patterns)
    ]


def copy_build_tree(repo: Path, dest: Path) -> None:
    """What a wheel is built from, copied to ``dest`` without caches, so that building it leaves the
    checkout's build/ folder alone."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "node_modules")
    for folder in packaged_folders(repo):
        shutil.copytree(folder, dest / folder.name, ignore=ignore)
    for name in BUILD_FILES:
        shutil.copy2(repo / name, dest / name)


def source_hash(repo: Path) -> str:
    """A digest of everything the wheel is built from: the packaged folders' files and the build files."""
    digest = hashlib.sha256()
    files = [repo / name for name in BUILD_FILES]
    for folder in packaged_folders(repo):
        files += sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        digest.update(str(path.relative_to(repo)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def compiled_site(repo: Path) -> Path:
    """The folder holding the installed wheel of this checkout; built if this version has none yet.

    Raises RuntimeError with pip's last lines if the build fails (no C compiler, say)."""
    root = repo / "build" / "bench-compiled"
    site = root / source_hash(repo)
    if (site / "simulator").is_dir():
        return site
    print(
        "  building the wheel with the compiled simulator core (mypyc and gcc, about 1-2 minutes,"
        " once per version of the sources) ...",
        file=sys.stderr,
        flush=True,
    )
    shutil.rmtree(root, ignore_errors=True)  # older versions' builds
    with tempfile.TemporaryDirectory() as tmp:
        source, dist = Path(tmp) / "source", Path(tmp) / "dist"
        copy_build_tree(repo, source)
        _pip(site, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(source))
        _pip(site, "install", "--no-deps", "-q", "--target", str(site), *map(str, dist.glob("*.whl")))
    return site


def _pip(site: Path, *argv: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *argv], capture_output=True, text=True, check=False)
    if done.returncode:
        shutil.rmtree(site, ignore_errors=True)
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise RuntimeError(f"pip {argv[0]} failed:\n{tail}")
