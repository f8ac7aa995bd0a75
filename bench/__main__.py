"""Run the benchmarks: ``python -m bench [NAME …]`` (names in BENCHES; all of them without one)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

BENCHES = ["ingest", "spool", "simulator", "positions", "history", "kiosk", "api", "fleet", "forecast"]


def main() -> int:
    args = sys.argv[1:]
    names = []
    while args and not args[0].startswith("-"):
        names.append(args.pop(0))
    wanted, extra = names or BENCHES, args
    failed = []
    for name in wanted:
        if name not in BENCHES:
            print(f"unknown benchmark {name!r}; choose from {', '.join(BENCHES)}", file=sys.stderr)
            return 2
        script = Path(__file__).resolve().parent / f"bench_{name}.py"
        if not script.exists():
            print(f"== {name}: not available yet")
            continue
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        if hasattr(module, "main") and len(wanted) == 1:
            module.main(extra)
            continue
        result = subprocess.run([sys.executable, "-m", f"bench.bench_{name}", *extra], check=False)
        if result.returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
