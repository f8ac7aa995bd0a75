"""The kiosk's Plotly: the cartesian partial bundle of plotly.js, fetched once from the npm registry.

The kiosk draws only ``scatter`` and ``heatmap`` traces. The full plotly.js that the plotly Python
package ships (4.8 MB) spends about 0.8 s of a cold page load just running its set-up code; the
cartesian bundle of the same release (1.5 MB) needs about a third of that. It is published only
to the npm registry, so set-up fetches the pinned tarball, checks it against the integrity hash
recorded here and keeps the script and its licence in ``static/vendor/``.

    python -m dashboards.assets            fetch it if missing (what run.sh and the Dockerfile do)
    python -m dashboards.assets --check    exit 1 if it is missing or not the pinned release

Without it the API serves the full bundle from the plotly package and logs a warning.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import httpx

VENDOR = Path(__file__).resolve().parent / "static" / "vendor"


@dataclass(frozen=True)
class NpmFile:
    """One file of a pinned npm package, and where it is kept."""

    package: str
    version: str
    integrity: str  # the registry's "dist.integrity" of the tarball (Subresource Integrity form)
    member: str  # path inside the tarball
    target: str  # file name under VENDOR

    @property
    def tarball_url(self) -> str:
        return f"https://registry.npmjs.org/{self.package}/-/{self.package}-{self.version}.tgz"

    @property
    def marker(self) -> bytes:
        """What the first lines of the script say, so a kept file can be recognised."""
        return f"(cartesian - minified) v{self.version}".encode()


PLOTLY_CARTESIAN = NpmFile(
    package="plotly.js-cartesian-dist-min",
    version="4.1.1",
    integrity="sha512-o8GrFeusncwBIxbBynRJpY4pkgVB6caM+JLpwrLYbbsO7dZ8FJ+SVN2Fr+L7kiG/Z6w4P5O0Jus/Qr5EefHVeg==",
    member="package/plotly-cartesian.min.js",
    target="plotly-cartesian.min.js",
)


class AssetError(Exception):
    pass


def verify(tarball: bytes, integrity: str) -> None:
    """Raise AssetError unless ``tarball`` has the Subresource Integrity hash ``integrity``."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm not in ("sha256", "sha384", "sha512"):
        raise AssetError(f"unsupported integrity algorithm {algorithm!r}")
    actual = base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode()
    if actual != expected:
        raise AssetError(f"integrity mismatch: expected {integrity}, got {algorithm}-{actual}")


def unpack(tarball: bytes, spec: NpmFile) -> dict[str, bytes]:
    """The script and the package's LICENSE from a verified tarball, by target file name."""
    verify(tarball, spec.integrity)
    wanted = {spec.member: spec.target, "package/LICENSE": f"{spec.target}.LICENSE"}
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.name in wanted and member.isfile():
                extracted = archive.extractfile(member)
                if extracted is not None:
                    found[wanted[member.name]] = extracted.read()
    missing = sorted(set(wanted.values()) - set(found))
    if missing:
        raise AssetError(f"{spec.package}@{spec.version} lacks {', '.join(missing)}")
    return found


def kept(spec: NpmFile = PLOTLY_CARTESIAN, folder: Path = VENDOR) -> Path | None:
    """The kept script if it is there and of the pinned release, else None."""
    path = folder / spec.target
    try:
        with path.open("rb") as file:
            head = file.read(200)
    except OSError:
        return None
    return path if spec.marker in head else None


def fetch(spec: NpmFile = PLOTLY_CARTESIAN, folder: Path = VENDOR, *, timeout_s: float = 60) -> Path:
    """Download, verify and keep the script unless it is there already; returns its path."""
    existing = kept(spec, folder)
    if existing is not None:
        return existing
    try:
        response = httpx.get(spec.tarball_url, timeout=timeout_s, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise AssetError(f"cannot download {spec.tarball_url}: {exc}") from exc
    files = unpack(response.content, spec)
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        partial = folder / f".{name}.part"
        partial.write_bytes(content)
        partial.replace(folder / name)  # a reader never sees half a file
    return folder / spec.target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.assets", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the bundle is there")
    parser.add_argument("--folder", type=Path, default=VENDOR, help=f"where to keep it (default {VENDOR})")
    args = parser.parse_args(argv)
    spec = PLOTLY_CARTESIAN
    if args.check:
        path = kept(spec, args.folder)
        print(f"{spec.package}@{spec.version}: {path or 'missing'}")
        return 0 if path else 1
    try:
        path = fetch(spec, args.folder)
    except (AssetError, OSError) as exc:
        print(f"dashboards.assets: {exc}", file=sys.stderr)
        return 1
    print(f"{spec.package}@{spec.version}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
