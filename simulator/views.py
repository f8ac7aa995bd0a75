"""Which sites a live simulator publishes, under which bay ids, and which bays real sensors decide.

A town model (the scenario's site) can be shown by more than one site: its own, and sites that are a
piece of it, such as the showroom table, whose site file says ``"part_of": "town-centre"`` and gives
each bay the town bay it is (``"town_bay": "TC-0133"``). The simulator publishes each of the model's
bays under every site that shows it, so two screens never disagree.

A bay marked ``"hands_on": true`` in its site file (it must have a sensor bound: ``device_id`` or
``dev_eui``) belongs to a real sensor on the table: the simulator never publishes it, and the real
readings enter the model instead (``simulator.handson``). Opt-in, so the shipped showroom simulates all
of its bays; docs/simulator.md says how to switch it on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from parking.registry import Bay, Site, SiteFileError

PART_OF = "part_of"
TOWN_BAY = "town_bay"
HANDS_ON = "hands_on"


@dataclass(frozen=True, slots=True)
class SiteView:
    """One published site: its bays, the model bay each of them is, and those a real sensor decides."""

    site: Site
    to_model: Mapping[str, str]  # this site's bay id -> the model site's bay id
    real: frozenset[str] = field(default_factory=frozenset)  # this site's bay ids

    @property
    def id(self) -> str:
        return self.site.id

    @property
    def is_model(self) -> bool:
        return all(site_bay == model_bay for site_bay, model_bay in self.to_model.items())


@dataclass(frozen=True, slots=True)
class Views:
    """Every published site of one model, and the look-ups the publisher needs on every change."""

    model: Site
    sites: tuple[SiteView, ...]
    # model bay id -> [(site view, that site's bay)], leaving out bays a real sensor decides
    published: Mapping[str, tuple[tuple[SiteView, Bay], ...]]
    real_model_bays: Mapping[str, tuple[SiteView, Bay]]  # model bay id -> the real sensor's site and bay

    def of(self, site_id: str) -> SiteView | None:
        return next((view for view in self.sites if view.id == site_id), None)


def _where(site: Site) -> Path:
    return site.source or Path(site.id)


def _hands_on(site: Site, bay: Bay) -> bool:
    value = bay.properties.get(HANDS_ON, False)
    if not isinstance(value, bool):
        raise SiteFileError(
            _where(site), f"bay {bay.id!r}.properties.{HANDS_ON}", f"must be true or false, got {value!r}"
        )
    if value and bay.device_id is None and bay.dev_eui is None:
        raise SiteFileError(
            _where(site),
            f"bay {bay.id!r}.properties.{HANDS_ON}",
            "a hands-on bay needs its real sensor bound (device_id or dev_eui)",
        )
    return value


def view_of(site: Site, model: Site) -> SiteView:
    """How ``site`` shows ``model``: the model itself, or a piece of it (errors name the file and bay)."""
    if site.id == model.id:
        mapping = {bay: bay for bay in site.bays}
    else:
        mapping = {}
        seen: dict[str, str] = {}
        for bay in site.bays.values():
            town_bay = bay.properties.get(TOWN_BAY)
            where = f"bay {bay.id!r}.properties.{TOWN_BAY}"
            if not isinstance(town_bay, str) or town_bay not in model.bays:
                raise SiteFileError(
                    _where(site), where, f"must name a bay of site {model.id!r}, got {town_bay!r}"
                )
            if town_bay in seen:
                raise SiteFileError(_where(site), where, f"{town_bay!r} is already bay {seen[town_bay]!r}")
            seen[town_bay] = bay.id
            mapping[bay.id] = town_bay
    real = frozenset(bay.id for bay in site.bays.values() if _hands_on(site, bay))
    return SiteView(site, mapping, real)


def build_views(model: Site, others: Iterable[Site], only: Iterable[str] | None = None) -> Views:
    """The model's site and every site ``part_of`` it, or only the sites named in ``only``."""
    candidates = [model] + [s for s in others if s.id != model.id and s.properties.get(PART_OF) == model.id]
    wanted = set(only) if only is not None else None
    if wanted is not None:
        known = {s.id for s in candidates}
        unknown = sorted(wanted - known)
        if unknown:
            raise ValueError(
                f"--publish-site: {', '.join(unknown)} is not a site of the model {model.id!r} "
                f"(its sites: {', '.join(sorted(known))})"
            )
        candidates = [s for s in candidates if s.id in wanted]
    sites = tuple(view_of(site, model) for site in candidates)
    published: dict[str, list[tuple[SiteView, Bay]]] = {}
    real: dict[str, tuple[SiteView, Bay]] = {}
    for view in sites:
        for site_bay, model_bay in view.to_model.items():
            bay = view.site.bays[site_bay]
            if site_bay in view.real:
                real[model_bay] = (view, bay)
    for view in sites:
        for site_bay, model_bay in view.to_model.items():
            if site_bay in view.real:
                continue
            published.setdefault(model_bay, []).append((view, view.site.bays[site_bay]))
    return Views(model, sites, {k: tuple(v) for k, v in published.items()}, real)
