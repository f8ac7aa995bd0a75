"""Each published site's occupancy over the simulated day so far, as the live simulator published it.

The showroom screen draws the day's occupancy ("heute") from the bay states it hears, so a screen
opened mid-loop would start with an empty line. The live simulator knows what it published: this
keeps, per site, the status it last published for each bay and samples the share occupied every
``STEP_H`` simulated hours since the loop began (a jump back, as when the loop starts again, starts
a new line). The status message carries the line, and a freshly opened screen starts with it. Pure.
"""

from __future__ import annotations

STEP_H = 5 / 60  # a point every five simulated minutes: 24 h are 288 points at most
BACK_H = 0.05  # the clock went back more than this: a new loop, a new line


class DayLine:
    def __init__(self, step_h: float = STEP_H) -> None:
        self.step_h = step_h
        self._occupied: dict[str, dict[str, bool]] = {}  # site: bay: published occupied
        self._points: dict[str, list[tuple[float, float]]] = {}  # site: (hour, share occupied)

    def published(self, site: str, bay: str, occupied: bool) -> None:
        self._occupied.setdefault(site, {})[bay] = occupied

    def sample(self, hour: float) -> None:
        """A point per site at ``hour`` (simulated hours since local midnight), at most one per step."""
        for site, bays in self._occupied.items():
            points = self._points.setdefault(site, [])
            if points and hour < points[-1][0] - BACK_H:
                points.clear()
            if bays and (not points or hour >= points[-1][0] + self.step_h):
                points.append((round(hour, 4), round(sum(bays.values()) / len(bays), 4)))

    def restart(self) -> None:
        """A new model (scenario, preset or loop): nothing published yet."""
        self._occupied.clear()
        self._points.clear()

    def points(self, site: str) -> list[tuple[float, float]]:
        return list(self._points.get(site, ()))
