"""The facts behind the rules, read from InfluxDB with a few queries per site (never one per bay).

Two cadences: what changes by the minute (status changes of the last hour) is read on every
evaluation; what moves slowly (battery series, radio medians, when each bay's status really began,
bays reporting per day, the daily occupancy swing) is read less often and kept between reads.
``assemble`` (pure) joins them with the live state and the dead-letter counts into ``BayFacts``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from parking.events import BayStatus
from parking.fleet.deadletters import Refusal
from parking.fleet.rules import DAY_NS, HOUR_NS, BayFacts, SiteFacts, Thresholds, Trend, fit_trend
from parking.history.influxql import (
    fleet_battery_query,
    fleet_change_times_query,
    fleet_changes_query,
    fleet_first_reading_query,
    fleet_last_change_query,
    fleet_radio_query,
    fleet_reporting_query,
    rollup_query,
)
from parking.history.sums import parse_rollup
from parking.history.windows import ROLLUP_NS
from parking.registry import Site
from parking.state import BayState
from parking.store import InfluxStore, Series

MS_NS = 1_000_000
SITE_DAYS = 15  # two weeks of daily figures for the site rules, and the last day
MIN_HOURS_FOR_SWING = 12  # a day with fewer hourly figures has no honest swing


@dataclass(frozen=True, slots=True)
class SlowFacts:
    """What one slow read found for a site, at ``read_ns``."""

    read_ns: int
    changed_ns: Mapping[str, int] = field(default_factory=dict)  # last status change per bay
    first_ns: Mapping[str, int] = field(default_factory=dict)  # first reading per bay since window_start_ns
    window_start_ns: int = 0
    radio: Mapping[str, tuple[float | None, float | None, int]] = field(default_factory=dict)
    battery_read_ns: int = 0  # when the battery series were read (they hold whole UTC days before that day)
    battery_v: Mapping[str, tuple[float, Trend | None]] = field(
        default_factory=dict
    )  # last day's mean, trend
    battery_pct: Mapping[str, tuple[float, Trend | None]] = field(default_factory=dict)
    site: SiteFacts = field(default_factory=SiteFacts)


def _per_bay(series: Iterable[Series], column: str) -> dict[str, tuple[int, float]]:
    found = {}
    for s in series:
        bay = s.tags.get("bay")
        if bay is None or column not in s.columns:
            continue
        index = s.columns.index(column)
        for row in s.values:
            if row[index] is not None:
                found[bay] = (int(row[0]), float(row[index]))
    return found


def parse_changes(series: Iterable[Series]) -> dict[str, int]:
    return {bay: int(n) for bay, (_, n) in _per_bay(series, "changes").items()}


def parse_change_times(series: Iterable[Series]) -> dict[str, list[int]]:
    """Per bay, the times of its status changes, oldest first, to the millisecond (the precision of
    the ingester's change events, so that a change both stored and heard is one time)."""
    found: dict[str, list[int]] = {}
    for s in series:
        bay = s.tags.get("bay")
        if bay is not None:
            found.setdefault(bay, []).extend(int(row[0]) // MS_NS * MS_NS for row in s.values)
    return {bay: sorted(times) for bay, times in found.items()}


def parse_last_change(series: Iterable[Series]) -> dict[str, int]:
    return {bay: t for bay, (t, _) in _per_bay(series, "d").items()}


def parse_first_reading(series: Iterable[Series]) -> dict[str, int]:
    return {bay: t for bay, (t, _) in _per_bay(series, "first").items()}


def parse_radio(series: Iterable[Series]) -> dict[str, tuple[float | None, float | None, int]]:
    radio = {}
    for s in series:
        bay = s.tags.get("bay")
        if bay is None:
            continue
        for row in s.rows():
            rssi, snr = row.get("rssi"), row.get("snr")
            radio[bay] = (
                None if rssi is None else float(rssi),
                None if snr is None else float(snr),
                int(row.get("n") or 0),
            )
    return radio


def parse_battery(series: Iterable[Series], column: str) -> dict[str, tuple[float, Trend | None]]:
    """Per bay: the latest daily mean and the trend through them (fitted once per read)."""
    return {bay: (days[-1][1], fit_trend(days)) for bay, days in battery_days(series, column).items()}


def battery_days(series: Iterable[Series], column: str) -> dict[str, list[tuple[int, float]]]:
    days: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for s in series:
        bay = s.tags.get("bay")
        if bay is None or column not in s.columns:
            continue
        index = s.columns.index(column)
        for row in s.values:
            if row[index] is not None:
                days[bay].append((int(row[0]), float(row[index])))
    return {bay: sorted(values) for bay, values in days.items()}


def parse_reporting(series: Iterable[Series]) -> list[tuple[int, int]]:
    return sorted((int(row[0]), int(row[1] or 0)) for s in series for row in s.values)


def daily_swing(hourly: Mapping[int, float | None], end_ns: int) -> list[tuple[int, float]]:
    """Highest minus lowest hourly occupancy of each day (days ending at ``end_ns``)."""
    by_day: dict[int, list[float]] = defaultdict(list)
    for t, occupancy in hourly.items():
        if occupancy is not None and t + ROLLUP_NS <= end_ns:
            day = end_ns - ((end_ns - t - 1) // DAY_NS + 1) * DAY_NS
            by_day[day].append(occupancy)
    full_days = ((day, values) for day, values in by_day.items() if len(values) >= MIN_HOURS_FOR_SWING)
    return sorted((day, max(values) - min(values)) for day, values in full_days)


async def read_fast(store: InfluxStore, site: str, now_ns: int, window_ns: int = HOUR_NS) -> dict[str, int]:
    """Status changes per bay in the ``window_ns`` before ``now_ns`` (a simulated site: its hour)."""
    return parse_changes(await store.query(fleet_changes_query(site, now_ns - window_ns), epoch="ns"))


async def read_change_times(
    store: InfluxStore, site: str, start_ns: int, end_ns: int
) -> dict[str, list[int]]:
    """Every bay's status changes stored from ``start_ns`` to ``end_ns`` (the monitor reads them once
    after it subscribes to the change events, to count the hour before as if it had heard it)."""
    return parse_change_times(await store.query(fleet_change_times_query(site, start_ns, end_ns), epoch="ns"))


async def read_slow(
    store: InfluxStore,
    site: str,
    now_ns: int,
    thresholds: Thresholds,
    previous: SlowFacts | None = None,
    battery_every_ns: int = DAY_NS,
) -> SlowFacts:
    """Status starts, radio and the site's daily figures; the battery series on a new day or after
    ``battery_every_ns``. A few queries for the whole site."""
    longest_hold = int(max(thresholds.stuck_free_s, thresholds.stuck_occupied_s) * 1e9)
    window_start = now_ns - longest_hold - DAY_NS
    days_start = now_ns - SITE_DAYS * DAY_NS
    statements = [
        fleet_last_change_query(site, window_start),
        fleet_first_reading_query(site, window_start),
        fleet_radio_query(site, now_ns - DAY_NS),
        fleet_reporting_query(site, days_start, now_ns),
    ]
    # One request per statement: InfluxDB answers a multi-statement query only as a whole.
    changed, first, radio, reporting = [await store.query(q, epoch="ns") for q in statements]
    # Daily means of whole days change once a day, and over a city they are the biggest read.
    today = now_ns - now_ns % DAY_NS
    fresh = previous is not None and today <= previous.battery_read_ns > now_ns - battery_every_ns
    if previous is not None and fresh:
        read_at, volts, percent = previous.battery_read_ns, previous.battery_v, previous.battery_pct
    else:
        read_at = now_ns
        battery_days = max(14, thresholds.battery_min_days)
        battery = await store.query(
            fleet_battery_query(site, today - battery_days * DAY_NS, today), epoch="ns"
        )
        volts, percent = parse_battery(battery, "v"), parse_battery(battery, "pct")
    hours_start = days_start - days_start % HOUR_NS
    rollup = await store.query(
        rollup_query(site, None, hours_start, now_ns, ROLLUP_NS, fields=("occupied", "samples")), epoch="ns"
    )
    hourly = {t: b.occupancy for t, b in parse_rollup(rollup).items()}
    return SlowFacts(
        read_ns=now_ns,
        changed_ns=parse_last_change(changed),
        first_ns=parse_first_reading(first),
        window_start_ns=window_start,
        radio=parse_radio(radio),
        battery_read_ns=read_at,
        battery_v=volts,
        battery_pct=percent,
        site=SiteFacts(parse_reporting(reporting), daily_swing(hourly, now_ns)),
    )


def status_since(state: BayState, slow: SlowFacts) -> int | None:
    """When the bay's current status began, as well as the data can tell.

    The live state's ``since`` is exact when the ingester saw the change, but only the time of the
    latest stored reading after a restart; the slow read finds the real change in InfluxDB. A change
    after that read is newer than anything it found, so the live value wins then.
    """
    live = state.since_ns
    if live is None or live > slow.read_ns or slow.read_ns == 0:
        return live
    # No change in the window: the status has held since the bay's first reading in it (or longer).
    stored = slow.changed_ns.get(state.bay, slow.first_ns.get(state.bay, live))
    return min(live, stored)


def _latest(live: float | None, stored: tuple[float, Trend | None] | None) -> float | None:
    return live if live is not None else (None if stored is None else stored[0])


def zone_latest(
    zones: Mapping[str, str],
    states: Iterable[BayState],
    since: Iterable[int | None],
    top: dict[str, tuple[int, str, int | None]] | None = None,
) -> dict[str, tuple[int, str, int | None]]:
    """Per zone, in one pass: the latest status change (time, bay) and the latest of any other bay,
    so that each bay can be compared with the rest of its zone. ``zones``: each bay's zone
    (``SiteLayout.zones``). Bays without a known free/occupied status do not count. ``top``: the
    result for the bays before these, to go on from (a site's bays can be taken in slices, in
    site-file order, with the same result)."""
    top = {} if top is None else top
    for s, t in zip(states, since, strict=True):
        if t is None or (s.status is not BayStatus.FREE and s.status is not BayStatus.OCCUPIED):
            continue
        zone = zones[s.bay]
        held = top.get(zone)
        if held is None:
            top[zone] = (t, s.bay, None)
        elif t > held[0]:
            top[zone] = (t, s.bay, held[0])
        elif held[2] is None or t > held[2]:
            top[zone] = (held[0], held[1], t)
    return top


@dataclass(frozen=True, slots=True)
class SiteLayout:
    """What the join needs of a site file: per bay (site-file order) its zone, device and codec.

    Small enough to send to the monitor's worker process, where a ``Site`` carries every bay's
    geometry and properties too."""

    id: str
    bays: Mapping[str, tuple[str, str | None, str | None]]  # bay: (zone, device, codec)

    @classmethod
    def of(cls, site: Site) -> SiteLayout:
        return cls(site.id, {b.id: (b.zone, b.device_id or b.dev_eui, b.codec) for b in site.bays.values()})

    @property
    def zones(self) -> dict[str, str]:
        return {bay: fixed[0] for bay, fixed in self.bays.items()}


class SiteBays:
    """Joins a site's facts into ``BayFacts``; what its site file fixes (zone, device, codec) is looked
    up once per site, not per bay and evaluation (a city has 10,080 bays, evaluated every minute)."""

    __slots__ = ("_fixed", "layout", "zones")

    def __init__(self, site: Site | SiteLayout) -> None:
        self.layout = site if isinstance(site, SiteLayout) else SiteLayout.of(site)
        self._fixed = self.layout.bays
        self.zones = self.layout.zones

    def assemble(
        self,
        states: Iterable[BayState],
        changes: Mapping[str, int],
        slow: SlowFacts,
        refusals: Mapping[str, tuple[int, Refusal]],
    ) -> Iterator[BayFacts]:
        """One ``BayFacts`` per bay of the site (site-file order), made as they are taken, so that the
        caller can give the event loop a turn between bays. The pass over the whole site (status
        starts, each zone's latest changes) is done here, before the first is taken, so that the
        caller can yield after it too. Pure."""
        states = list(states)
        since = [status_since(s, slow) for s in states]
        return self.join(states, since, zone_latest(self.zones, states, since), changes, slow, refusals)

    def join(
        self,
        states: list[BayState],
        since: list[int | None],
        latest: Mapping[str, tuple[int, str, int | None]],
        changes: Mapping[str, int],
        slow: SlowFacts,
        refusals: Mapping[str, tuple[int, Refusal]],
    ) -> Iterator[BayFacts]:
        """``assemble`` once the pass over the whole site is done (``since``: ``status_since`` of each
        state; ``latest``: ``zone_latest``), for a caller that takes that pass in slices."""
        site_id, fixed = self.layout.id, self._fixed
        radio, volts_by_bay, percent_by_bay = slow.radio, slow.battery_v, slow.battery_pct
        no_radio: tuple[float | None, float | None, int] = (None, None, 0)
        for s, started in zip(states, since, strict=True):
            bay = s.bay
            zone, device, codec = fixed[bay]
            rssi, snr, messages = radio.get(bay, no_radio)
            refusal = refusals.get(bay)
            volts = volts_by_bay.get(bay)
            percent = percent_by_bay.get(bay)
            top = latest.get(zone)
            # Positional, in the order of BayFacts' fields: a city's facts are made every minute, and
            # keywords cost a third of the join (tests/unit/parking/fleet/test_gather.py pins the order).
            yield BayFacts(
                site_id,
                bay,
                zone,
                device,
                codec,
                s.status,
                started,
                s.last_seen_ns,
                changes.get(bay, 0),
                # After a restart the live state knows no battery until the next reading.
                _latest(s.battery_v, volts),
                _latest(s.battery_pct, percent),
                None if volts is None else volts[1],
                None if percent is None else percent[1],
                rssi,
                snr,
                messages,
                0 if refusal is None else refusal[0],
                None if refusal is None else refusal[1].reason,
                None if top is None else (top[2] if top[1] == bay else top[0]),
            )


def assemble(
    site: Site,
    states: Iterable[BayState],
    changes: Mapping[str, int],
    slow: SlowFacts,
    refusals: Mapping[str, tuple[int, Refusal]],
) -> Iterator[BayFacts]:
    """``SiteBays(site).assemble(...)``, for a single join (the monitor keeps a ``SiteBays`` per site)."""
    return SiteBays(site).assemble(states, changes, slow, refusals)
