"""The build's one addition to pyproject.toml: the simulator's hot core compiled with mypyc.

A wheel (``pip install .``, the Docker image) gets ``simulator.engine`` and the modules its event loop
calls compiled to C extensions: the same code, type-checked, run 1.6-1.8x as fast as CPython runs
it (``./run.sh bench simulator`` measures both in one run). The compiled modules behave
identically: ``bench/sim_fingerprint.py`` and tests/integration/test_wheel_install.py compare
their runs with the source's to the byte.

An editable install (``pip install -e .``, which ``./run.sh`` makes) stays pure Python, so that an
edit of the source takes effect at once, never shadowed by a stale extension. So does any build
with ``PARKLOTSE_PURE_PYTHON=1``, and a build on a machine with no C compiler (it says so and goes
on: the modules are optional).
"""

from __future__ import annotations

import os
import shutil

from setuptools import setup
from setuptools.command.build import build
from setuptools.command.build_ext import build_ext
from setuptools.dist import Distribution

# The event loop and everything it calls per event; the rest of the simulator runs once per run.
COMPILED = ["simulator/demand.py", "simulator/grid.py", "simulator/search.py", "simulator/engine.py"]


def _compile_wanted() -> bool:
    return os.environ.get("PARKLOTSE_PURE_PYTHON", "") in ("", "0")


class CompiledCore(Distribution):
    def has_ext_modules(self) -> bool:
        # asked before build_ext makes the modules: a wheel that will hold them is not pure
        return _compile_wanted() or super().has_ext_modules()


# The commands that build the modules; egg_info, dist_info and sdist also look at build_ext (for its
# sources) but must not spend a minute compiling.
_BUILDING = {"bdist_wheel", "build", "build_ext", "install", "bdist"}


class BuildCompiledCore(build_ext):
    def finalize_options(self) -> None:
        building = _BUILDING & set(self.distribution.commands)
        if building and _compile_wanted() and not self.editable_mode:
            try:
                from mypyc.build import mypycify  # a build requirement (pyproject.toml), not a run-time one
            except ImportError:  # a build without isolation in an environment without mypy
                self.warn("mypy is not installed: the simulator core stays pure Python (slower)")
                return super().finalize_options()
            # Not the project's mypy settings (they need the dev environment's plugins): a wheel is often
            # built where the dependencies are absent, so what they provide is typed Any there. The
            # compiled modules behave the same either way (tests/integration/test_wheel_install.py).
            flags = ["--config-file=", "--ignore-missing-imports"]
            extensions = mypycify([*flags, *COMPILED], opt_level="3", group_name="parklotse_core")
            for extension in extensions:
                extension.optional = True  # no C compiler: a warning, and the pure modules
            self.distribution.ext_modules = list(extensions)  # type: ignore[arg-type]
        super().finalize_options()


class CleanBuild(build):
    """Starts from an empty build/lib: the wheel packs everything it finds there, so a module an earlier
    in-tree build left behind (one since renamed or removed, an old compiled group) would ship too."""

    def run(self) -> None:
        # (an editable install runs the sub-commands itself, into a temporary folder: not this)
        shutil.rmtree(self.build_lib, ignore_errors=True)
        super().run()


setup(distclass=CompiledCore, cmdclass={"build": CleanBuild, "build_ext": BuildCompiledCore})
