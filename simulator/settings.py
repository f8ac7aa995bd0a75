"""Settings of the live simulator (``PARKLOTSE_*``): the broker is all it connects to."""

from __future__ import annotations

from parking.settings import CommonSettings, Need


class SimulatorSettings(CommonSettings):
    def _production_needs(self) -> frozenset[Need]:
        return frozenset({"mqtt"})
