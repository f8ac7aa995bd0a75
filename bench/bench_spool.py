"""Append throughput of the on-disk spool, fsync on, as the ingester uses it while InfluxDB is down.

    .venv/bin/python bench/bench_spool.py [--dir DIR]

DIR should be on the disk the ingester spools to: on tmpfs fsync costs nothing and the figures lie.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# Runnable as a plain script from a checkout, without installing the project.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.spool import Spool

GiB = 1024**3


def make_lines(count: int, start: int) -> list[str]:
    """Lines shaped like the ingester's: one bay reading each, about 80 bytes."""
    t0 = 1_700_000_000_000_000_000
    return [
        f"bay,site=town-centre,bay=A{(start + i) % 720:03d} occupied={(start + i) % 2 == 0},health=0i "
        f"{t0 + (start + i) * 1_000_000}"
        for i in range(count)
    ]


def bench(directory: Path, batches: int, lines_per_batch: int) -> None:
    payloads = [make_lines(lines_per_batch, n * lines_per_batch) for n in range(batches)]
    with Spool(directory, max_bytes=4 * GiB) as spool:
        started = time.perf_counter()
        for lines in payloads:
            spool.append(lines)
        elapsed = time.perf_counter() - started
        nbytes = spool.depth_bytes
    print(
        f"{batches:>6} batches x {lines_per_batch:>3} lines: {batches / elapsed:>9,.0f} appends/s  "
        f"{batches * lines_per_batch / elapsed:>11,.0f} lines/s  {nbytes / elapsed / 2**20:>7.1f} MiB/s  "
        f"({elapsed:.2f} s)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dir", type=Path, default=None, help="parent of the scratch spool directory")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-spool-", dir=args.dir) as scratch:
        print(f"spool in {scratch}, every append fsync'd")
        bench(Path(scratch) / "single", batches=20_000, lines_per_batch=1)
        bench(Path(scratch) / "batched", batches=2_000, lines_per_batch=200)


if __name__ == "__main__":
    main()
