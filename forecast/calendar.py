"""Public holidays of the site's region, from the ``holidays`` package (kept up to date upstream)."""

from __future__ import annotations

from datetime import date

import holidays
import numpy as np
import numpy.typing as npt

DEFAULT_REGION = "DE-SH"  # the sample sites are in Schleswig-Holstein
_EPOCH = date(1970, 1, 1).toordinal()


class RegionError(ValueError):
    """A holiday region the ``holidays`` package does not know."""


class HolidayCalendar:
    """Which local days (days since 1970-01-01) are public holidays in a region such as DE-SH or GB-ENG."""

    def __init__(self, region: str = DEFAULT_REGION) -> None:
        country, _, subdivision = region.partition("-")
        try:
            self._holidays = holidays.country_holidays(country.upper(), subdiv=subdivision.upper() or None)
        except NotImplementedError as exc:
            raise RegionError(
                f"unknown holiday region {region!r} ({exc}); e.g. DE-SH, DE-BY, GB-ENG, IT"
            ) from exc
        self.region = region

    def flags(self, local_days: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """1.0 for a holiday, else 0.0."""
        unique = np.unique(local_days)
        holiday_days = [d for d in unique.tolist() if date.fromordinal(d + _EPOCH) in self._holidays]
        return np.isin(local_days, holiday_days).astype(np.float64)
