"""``parklotse check-sites``: check site files before the ingester and the API load them.

The services stop at the first broken site file (they must not run on half a registry). Whoever
prepares the files for a new pilot wants every problem at once, and wants to see what the files
say: which bays, zones and sensors, and which bays no sensor is bound to yet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from parking.registry import SITE_FILE_SUFFIXES, Registry, Site, SiteFileError, load_site


@dataclass(frozen=True)
class SiteReport:
    site: Site

    @property
    def zones(self) -> tuple[str, ...]:
        return self.site.zones

    @property
    def things_stack_devices(self) -> int:
        return sum(1 for bay in self.site.bays.values() if bay.device_id is not None)

    @property
    def chirpstack_devices(self) -> int:
        return sum(1 for bay in self.site.bays.values() if bay.dev_eui is not None)

    @property
    def unbound(self) -> list[str]:
        """Bays no LoRaWAN device is bound to: they get readings only on the native topic."""
        return [b.id for b in self.site.bays.values() if b.device_id is None and b.dev_eui is None]

    @property
    def codecs(self) -> Counter[str]:
        return Counter(bay.codec for bay in self.site.bays.values() if bay.codec is not None)


@dataclass
class CheckResult:
    reports: list[SiteReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def site_files(paths: Iterable[Path]) -> list[Path]:
    """The site files named, a folder standing for the site files in it."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in SITE_FILE_SUFFIXES and p.is_file())
        else:
            files.append(path)
    return files


def check_sites(files: Iterable[Path]) -> CheckResult:
    """Every file on its own, then the good ones together (site ids and devices must be unique)."""
    result = CheckResult()
    sites: list[Site] = []
    for path in files:
        try:
            sites.append(load_site(path))
        except SiteFileError as exc:
            result.errors.append(str(exc))
    if not sites and not result.errors:
        result.errors.append("no site files (*.geojson) were given or found")
    try:
        Registry(sites)
    except SiteFileError as exc:
        result.errors.append(str(exc))
    result.reports = [SiteReport(site) for site in sites]
    return result


def render(result: CheckResult) -> str:
    lines: list[str] = []
    for report in result.reports:
        site = report.site
        lines.append(f"{site.id} ({site.name}) from {site.source}")
        lines.append(f"  {len(site.bays)} bays in {len(report.zones)} zones: {', '.join(report.zones)}")
        lines.append(
            f"  devices: {report.things_stack_devices} The Things Stack (device_id), "
            f"{report.chirpstack_devices} ChirpStack (dev_eui)"
        )
        if report.codecs:
            lines.append(
                "  codecs: " + ", ".join(f"{name} ×{n}" for name, n in sorted(report.codecs.items()))
            )
        if report.unbound:
            shown = ", ".join(report.unbound[:8]) + (" …" if len(report.unbound) > 8 else "")
            lines.append(f"  {len(report.unbound)} bays without a device (native topic only): {shown}")
    for error in result.errors:
        lines.append(f"error: {error}")
    checked = len(result.reports)
    lines.append(
        f"{checked} site file{'s' if checked != 1 else ''} good"
        if result.ok
        else f"{len(result.errors)} problem{'s' if len(result.errors) != 1 else ''} found"
    )
    return "\n".join(lines)
