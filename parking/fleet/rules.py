"""The fleet-health rules: typed facts about a bay in, its problems out. Pure, no I/O.

Every threshold lives in ``Thresholds``; its default, its source and its environment setting are
in docs/fleet.md. Each rule is a small function of (facts, thresholds, now) that returns a
``Problem`` or None, so each can be tested on its own in microseconds.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from parking.events import BayStatus

SECOND_NS = 1_000_000_000
HOUR_NS = 3600 * SECOND_NS
DAY_NS = 24 * HOUR_NS


class ProblemCode(StrEnum):
    """Per-bay problem codes (the contract in ARCHITECTURE.md)."""

    SILENT = "silent"
    STUCK = "stuck"
    FLAPPING = "flapping"
    BATTERY_LOW = "battery_low"
    BATTERY_FALLING = "battery_falling"
    WEAK_RADIO = "weak_radio"
    REJECTED = "rejected"


class SiteProblemCode(StrEnum):
    """Problems of a whole site, as in the Mantova pilot (docs/fleet.md)."""

    REPORTING_DROP = "reporting_drop"
    SWING_SHRINK = "swing_shrink"


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    since_ns: int | None  # when the condition began, if the data says; None: unknown (e.g. never heard)
    message_de: str
    message_en: str


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Defaults as documented in docs/fleet.md; each has a ``PARKLOTSE_FLEET_*`` setting."""

    silent_after_s: float = 25 * 3600.0
    silent_after_s_by_codec: Mapping[str, float] = field(default_factory=dict)
    stuck_occupied_s: float = 72 * 3600.0
    stuck_free_s: float = 14 * 86400.0
    zone_active_s: float = 24 * 3600.0
    flapping_changes_per_hour: int = 20
    battery_low_v: float = 3.2
    battery_low_pct: float = 20.0
    battery_low_v_by_codec: Mapping[str, float] = field(default_factory=dict)
    battery_empty_days: float = 30.0
    battery_min_days: int = 3
    weak_rssi_dbm: float = -120.0
    weak_snr_db: float = -15.0
    radio_min_messages: int = 3
    rejected_per_day: int = 5
    reporting_drop_share: float = 0.15
    swing_shrink_ratio: float = 0.5
    site_min_days: int = 3
    # A simulated site's sensors live in simulated time (``in_simulated_time``): ``changes_last_hour``
    # then covers this many wall seconds, and the messages say the site is simulated.
    flapping_window_s: float = 3600.0
    time_scale: float = 1.0

    def silent_after_ns(self, codec: str | None) -> int:
        by_codec = self.silent_after_s_by_codec  # most installations set none: skip the look-up
        seconds = by_codec.get(codec or "", self.silent_after_s) if by_codec else self.silent_after_s
        return int(seconds * SECOND_NS)

    def low_volts(self, codec: str | None) -> float:
        by_codec = self.battery_low_v_by_codec
        return by_codec.get(codec or "", self.battery_low_v) if by_codec else self.battery_low_v


def in_simulated_time(t: Thresholds, speed: float, heartbeat_s: float | None) -> Thresholds:
    """The per-bay thresholds for the sensors of a simulated site, whose clock runs ``speed`` times
    faster than the wall clock the readings are stamped with.

    Parking there happens ``speed`` times faster, so a rule in wall time would find every busy bay
    flapping (a bay that changes twice an hour changes 120 times a wall hour at 60x) and would need
    days of demo for silent or stuck. Durations are divided by the speed; the flapping window is one
    simulated hour; silent means two missed heartbeats of the simulated sensors (they announce their
    interval, ``simulator.faults``). Battery and site rules keep real days. docs/fleet.md.
    """
    scale = max(speed, 1.0)
    silent_s = 2 * heartbeat_s if heartbeat_s else t.silent_after_s
    return replace(
        t,
        silent_after_s=silent_s / scale,
        silent_after_s_by_codec={},
        stuck_occupied_s=t.stuck_occupied_s / scale,
        stuck_free_s=t.stuck_free_s / scale,
        zone_active_s=t.zone_active_s / scale,
        flapping_window_s=3600.0 / scale,
        time_scale=scale,
    )


def _simulated(t: Thresholds) -> tuple[str, str]:
    """What the messages of a simulated site add, so nobody takes them for a real sensor's."""
    if t.time_scale == 1.0:
        return "", ""
    factor = f"{t.time_scale:g}"
    return f" (simulierter Ort, Zeitraffer {factor}×)", f" (simulated site, {factor}× time)"


@dataclass(frozen=True, slots=True)
class Trend:
    """A least-squares line through daily means: its value on the last day and its slope per day."""

    value: float
    slope_per_day: float
    days: int

    def days_to(self, level: float) -> float | None:
        """Days from the last day until the line reaches ``level``; None if it is not falling."""
        if self.slope_per_day >= 0:
            return None
        days = (self.value - level) / -self.slope_per_day
        return days if days > 0.0 else 0.0  # max() written out: it runs for every bay


def fit_trend(series: Sequence[tuple[int, float]]) -> Trend | None:
    """The line through (day start, daily mean) pairs, oldest first; None below two days.

    Daily means, so one odd reading (a cold night) moves the line little.
    """
    n = len(series)
    if n < 2:
        return None
    t0 = series[0][0]
    sx = sy = sxx = sxy = 0.0
    for t, y in series:
        x = (t - t0) / DAY_NS
        sx += x
        sy += y
        sxx += x * x
        sxy += x * y
    denominator = n * sxx - sx * sx
    if denominator <= 0:
        return None
    slope = (n * sxy - sx * sy) / denominator
    last_x = (series[-1][0] - t0) / DAY_NS
    return Trend((sy - slope * sx) / n + slope * last_x, slope, n)


# Not frozen: a city's 10,080 facts are made on every evaluation, and a frozen dataclass takes twice
# as long to make. Nothing changes them after ``assemble``.
@dataclass(slots=True)
class BayFacts:
    """What the data says about one bay's sensor.

    Times are epoch nanoseconds. ``changes_last_hour`` counts status changes in the hour before
    now; ``battery_v_trend``/``battery_pct_trend`` are fitted to the daily means of the last two
    weeks (``fit_trend``); ``rssi_median``/``snr_median`` and ``radio_messages`` cover the last
    day, as does ``rejected``; ``zone_last_change_ns`` is the latest status change of any *other*
    bay of its zone.
    """

    site: str
    bay: str
    zone: str = ""
    device: str | None = None
    codec: str | None = None
    status: BayStatus = BayStatus.UNKNOWN
    since_ns: int | None = None
    last_seen_ns: int | None = None
    changes_last_hour: int = 0
    battery_v: float | None = None
    battery_pct: float | None = None
    battery_v_trend: Trend | None = None
    battery_pct_trend: Trend | None = None
    rssi_median: float | None = None
    snr_median: float | None = None
    radio_messages: int = 0
    rejected: int = 0
    rejected_reason: str | None = None
    zone_last_change_ns: int | None = None


@dataclass(frozen=True, slots=True)
class SiteFacts:
    """A site's daily figures, oldest first: bays that sent any reading per day, and the daily
    swing of occupancy (highest minus lowest hourly occupancy, 0..1) per day."""

    reporting_per_day: Sequence[tuple[int, int]] = ()
    swing_per_day: Sequence[tuple[int, float]] = ()


# ----------------------------------------------------------------------------- wording


def hours(ns: int) -> str:
    """A duration as people say it: minutes below two hours (a simulated site's), hours below three
    days, then days."""
    h = ns / HOUR_NS
    if h < 2 and ns % HOUR_NS:
        return f"{ns / (60 * SECOND_NS):.0f} min"
    if h < 72:
        return f"{h:.0f} h"
    return f"{h / 24:.0f} d"


def _de(number: float, digits: int = 1) -> str:
    """German decimal comma."""
    return f"{number:.{digits}f}".replace(".", ",")


def _en(number: float, digits: int = 1) -> str:
    return f"{number:.{digits}f}"


# ----------------------------------------------------------------------------- per-bay rules


def silent(f: BayFacts, t: Thresholds, now_ns: int) -> Problem | None:
    limit = t.silent_after_ns(f.codec)
    if f.last_seen_ns is None:
        return Problem(
            ProblemCode.SILENT,
            None,
            "Sensor hat noch nie gemeldet.",
            "The sensor has never reported.",
        )
    quiet = now_ns - f.last_seen_ns
    if quiet <= limit:
        return None
    de, en = _simulated(t)
    return Problem(
        ProblemCode.SILENT,
        f.last_seen_ns + limit,
        f"Keine Nachricht seit {hours(quiet)} (erwartet mindestens alle {hours(limit)}){de}.",
        f"No message for {hours(quiet)} (expected at least every {hours(limit)}){en}.",
    )


def stuck(f: BayFacts, t: Thresholds, now_ns: int) -> Problem | None:
    if f.since_ns is None or f.last_seen_ns is None or f.status not in (BayStatus.FREE, BayStatus.OCCUPIED):
        return None
    # Every condition must hold; the one most bays fail (held long enough) is checked first.
    occupied = f.status is BayStatus.OCCUPIED
    limit = int((t.stuck_occupied_s if occupied else t.stuck_free_s) * SECOND_NS)
    held = now_ns - f.since_ns
    if held <= limit:
        return None
    if now_ns - f.last_seen_ns > t.silent_after_ns(f.codec):
        return None  # a sensor that stopped talking is silent, not stuck
    zone_active = f.zone_last_change_ns is not None and now_ns - f.zone_last_change_ns <= int(
        t.zone_active_s * SECOND_NS
    )
    if not zone_active:
        return None  # the whole zone is quiet (closed road, holidays): not this sensor's fault
    de_state, en_state = ("belegt", "occupied") if occupied else ("frei", "free")
    de, en = _simulated(t)
    return Problem(
        ProblemCode.STUCK,
        f.since_ns + limit,
        f"Seit {hours(held)} durchgehend {de_state}, während die Zone wechselt; der Sensor meldet "
        f"weiter{de}.",
        f"{en_state.capitalize()} for {hours(held)} while its zone keeps changing; the sensor still "
        f"reports{en}.",
    )


def flapping(f: BayFacts, t: Thresholds, now_ns: int) -> Problem | None:
    if f.changes_last_hour <= t.flapping_changes_per_hour:
        return None
    if t.time_scale == 1.0:
        de_window, en_window = "der letzten Stunde", "the last hour"
    else:
        window = hours(int(t.flapping_window_s * SECOND_NS))
        de_window, en_window = (
            f"den letzten {window} (einer simulierten Stunde)",
            f"the last {window} (a simulated hour)",
        )
    de, en = _simulated(t)
    return Problem(
        ProblemCode.FLAPPING,
        None,
        f"{f.changes_last_hour} Statuswechsel in {de_window} (plausibel: höchstens "
        f"{t.flapping_changes_per_hour}){de}.",
        f"{f.changes_last_hour} status changes in {en_window} (plausible: at most "
        f"{t.flapping_changes_per_hour}){en}.",
    )


def battery_low(f: BayFacts, t: Thresholds, now_ns: int) -> Problem | None:
    volts = t.low_volts(f.codec)
    if f.battery_v is not None and f.battery_v < volts:
        return Problem(
            ProblemCode.BATTERY_LOW,
            None,
            f"Batterie {_de(f.battery_v, 2)} V, unter der Schwelle von {_de(volts, 2)} V.",
            f"Battery at {_en(f.battery_v, 2)} V, below the threshold of {_en(volts, 2)} V.",
        )
    if f.battery_pct is not None and f.battery_pct < t.battery_low_pct:
        return Problem(
            ProblemCode.BATTERY_LOW,
            None,
            f"Batterie {f.battery_pct:.0f} %, unter der Schwelle von {t.battery_low_pct:.0f} %.",
            f"Battery at {f.battery_pct:.0f} %, below the threshold of {t.battery_low_pct:.0f} %.",
        )
    return None


def battery_falling(f: BayFacts, t: Thresholds, now_ns: int) -> Problem | None:
    # The sooner of the two estimates (volts, percent), written out: it runs for every bay.
    best: tuple[float, int] | None = None
    volts = f.battery_v_trend
    if volts is not None and volts.days >= t.battery_min_days:
        to_empty = volts.days_to(t.low_volts(f.codec))
        if to_empty is not None:
            best = (to_empty, volts.days)
    percent = f.battery_pct_trend
    if percent is not None and percent.days >= t.battery_min_days:
        to_empty = percent.days_to(t.battery_low_pct)
        if to_empty is not None and (best is None or (to_empty, percent.days) < best):
            best = (to_empty, percent.days)
    if best is None or best[0] >= t.battery_empty_days:
        return None
    days, span = best
    return Problem(
        ProblemCode.BATTERY_FALLING,
        None,
        f"Batterie erreicht die Schwelle voraussichtlich in {days:.0f} Tagen "
        f"(Schätzung aus dem Trend der letzten {span} Tage).",
        f"Battery expected to reach its threshold in {days:.0f} days "
        f"(estimate from the trend of the last {span} days).",
    )


def weak_radio(f: BayFacts, t: Thresholds, now_ns: int) -> Problem | None:
    if f.radio_messages < t.radio_min_messages:
        return None
    weak_rssi = f.rssi_median is not None and f.rssi_median < t.weak_rssi_dbm
    weak_snr = f.snr_median is not None and f.snr_median < t.weak_snr_db
    if not (weak_rssi or weak_snr):
        return None
    rssi = "–" if f.rssi_median is None else f"{f.rssi_median:.0f} dBm"
    snr = "–" if f.snr_median is None else f"{f.snr_median:.1f} dB"
    limits = f"{t.weak_rssi_dbm:.0f} dBm / {t.weak_snr_db:.1f} dB"
    return Problem(
        ProblemCode.WEAK_RADIO,
        None,
        f"Funk schwach: Median RSSI {rssi.replace('.', ',')} / SNR {snr.replace('.', ',')} am letzten "
        f"Tag ({f.radio_messages} Nachrichten; Grenzen {limits.replace('.', ',')}).",
        f"Weak radio: median RSSI {rssi} / SNR {snr} over the last day ({f.radio_messages} messages; "
        f"limits {limits}).",
    )


def rejected(f: BayFacts, t: Thresholds, now_ns: int) -> Problem | None:
    if f.rejected <= t.rejected_per_day:
        return None
    reason = f.rejected_reason or "?"
    return Problem(
        ProblemCode.REJECTED,
        None,
        f"{f.rejected} Nachrichten am letzten Tag abgewiesen (zuletzt: {reason}); Codec und "
        "Site-Datei prüfen.",
        f"{f.rejected} messages refused in the last day (latest: {reason}); check the codec and the "
        "site file.",
    )


Rule = Callable[[BayFacts, Thresholds, int], Problem | None]
BAY_RULES: tuple[Rule, ...] = (silent, stuck, flapping, battery_low, battery_falling, weak_radio, rejected)


@dataclass(frozen=True, slots=True)
class Limits:
    """A set of thresholds worked out once (nanoseconds, per-codec tables empty or not), so that a
    healthy bay is told apart with a few comparisons (``healthy``) instead of seven rule calls."""

    thresholds: Thresholds
    silent_ns: int | None  # None: a per-codec table is set, look it up per bay
    low_volts: float | None  # likewise
    stuck_ns: int  # the shorter of the two stuck limits: a status held no longer is not stuck
    flapping: int
    low_pct: float
    radio_min: int
    weak_rssi: float
    weak_snr: float
    rejected: int
    battery_min_days: int
    empty_days: float

    @classmethod
    def of(cls, t: Thresholds) -> Limits:
        return cls(
            t,
            None if t.silent_after_s_by_codec else int(t.silent_after_s * SECOND_NS),
            None if t.battery_low_v_by_codec else t.battery_low_v,
            int(min(t.stuck_occupied_s, t.stuck_free_s) * SECOND_NS),
            t.flapping_changes_per_hour,
            t.battery_low_pct,
            t.radio_min_messages,
            t.weak_rssi_dbm,
            t.weak_snr_db,
            t.rejected_per_day,
            t.battery_min_days,
            t.battery_empty_days,
        )


def healthy(f: BayFacts, lim: Limits, now_ns: int) -> bool:
    """True only when every rule would find nothing (a conservative test: False means "ask the
    rules"). Most bays of a fleet are fine, and this decides that with the fewest comparisons; the
    order puts first what a healthy bay answers quickest."""
    if f.changes_last_hour > lim.flapping or f.rejected > lim.rejected:
        return False
    last_seen = f.last_seen_ns
    if last_seen is None or lim.silent_ns is None or now_ns - last_seen > lim.silent_ns:
        return False
    since = f.since_ns
    if since is not None and now_ns - since > lim.stuck_ns:
        return False
    volts = f.battery_v
    if volts is not None and (lim.low_volts is None or volts < lim.low_volts):
        return False
    percent = f.battery_pct
    if percent is not None and percent < lim.low_pct:
        return False
    if f.radio_messages >= lim.radio_min:
        rssi, snr = f.rssi_median, f.snr_median
        if (rssi is not None and rssi < lim.weak_rssi) or (snr is not None and snr < lim.weak_snr):
            return False
    # battery_falling finds nothing when neither trend reaches its threshold within the warning time.
    return not _empties_soon(f.battery_v_trend, lim.low_volts, lim) and not _empties_soon(
        f.battery_pct_trend, lim.low_pct, lim
    )


def healthy_until(f: BayFacts, lim: Limits, now_ns: int) -> int | None:
    """The last moment at which ``healthy`` still answers True for these facts, when it does now;
    None when it does not. Only its silence and stuck tests depend on the time, and each holds up to
    a deadline, so a bay whose facts do not change needs no rules before then (the fleet worker
    re-evaluates only the bays whose facts changed or whose deadline passed)."""
    if not healthy(f, lim, now_ns):
        return None
    # healthy() returned True, so last_seen and the silence limit are known
    until = f.last_seen_ns + lim.silent_ns  # type: ignore[operator]
    return until if f.since_ns is None else min(until, f.since_ns + lim.stuck_ns)


def _empties_soon(trend: Trend | None, level: float | None, lim: Limits) -> bool:
    """Whether ``battery_falling`` could find this trend (a per-codec level: ask it)."""
    if trend is None or trend.days < lim.battery_min_days or trend.slope_per_day >= 0:
        return False
    # The rule's own arithmetic (``Trend.days_to``), so that a bay at the limit gets the same answer.
    return level is None or (trend.value - level) / -trend.slope_per_day < lim.empty_days


def evaluate_bay(
    facts: BayFacts, thresholds: Thresholds, now_ns: int, limits: Limits | None = None
) -> list[Problem]:
    """Every problem of one bay, in the order of ``ProblemCode``. With ``limits`` (``Limits.of`` the
    same thresholds), a healthy bay is answered by ``healthy`` alone."""
    if limits is not None and healthy(facts, limits, now_ns):
        return []
    found = []
    for rule in BAY_RULES:
        problem = rule(facts, thresholds, now_ns)
        if problem is not None:
            found.append(problem)
    return found


def keep_since(previous: Iterable[Problem], current: list[Problem], now_ns: int) -> list[Problem]:
    """A problem whose start the data does not say keeps the moment it was first found."""
    before = {p.code: p.since_ns for p in previous}
    kept = []
    for problem in current:
        # A sensor never heard from has no start to tell; everything else started when first found.
        if problem.since_ns is None and problem.code != ProblemCode.SILENT:
            since = before.get(problem.code)
            problem = replace(problem, since_ns=since if since is not None else now_ns)
        kept.append(problem)
    return kept


# ----------------------------------------------------------------------------- site rules


def _reference(values: Sequence[float], min_days: int) -> float | None:
    return statistics.median(values) if len(values) >= min_days else None


def reporting_drop(s: SiteFacts, t: Thresholds, now_ns: int) -> Problem | None:
    """Fewer bays sent anything on the last day than the median of the days before."""
    if not s.reporting_per_day:
        return None
    *earlier, (day, latest) = s.reporting_per_day
    reference = _reference([n for _, n in earlier[-7:]], t.site_min_days)
    if reference is None or reference == 0 or latest >= reference * (1 - t.reporting_drop_share):
        return None
    share = 1 - latest / reference
    return Problem(
        SiteProblemCode.REPORTING_DROP,
        day,
        f"Nur {latest} Sensoren meldeten am letzten Tag, sonst {reference:.0f} (Median der Tage davor): "
        f"{share:.0%} weniger.".replace("%", " %"),
        f"Only {latest} sensors reported on the last day, usually {reference:.0f} (median of the days "
        f"before): {share:.0%} fewer.",
    )


def swing_shrink(s: SiteFacts, t: Thresholds, now_ns: int) -> Problem | None:
    """The daily occupancy swing of the last week fell below a share of the week before.

    Weeks against weeks, so the weekend pattern is in both.
    """
    values = [v for _, v in s.swing_per_day]
    if len(values) < 2 * t.site_min_days:
        return None
    recent, before = values[-7:], values[:-7][-7:]
    if len(before) < t.site_min_days:
        return None
    now_swing, then_swing = statistics.median(recent), statistics.median(before)
    if then_swing <= 0 or now_swing >= then_swing * t.swing_shrink_ratio:
        return None
    return Problem(
        SiteProblemCode.SWING_SHRINK,
        s.swing_per_day[-len(recent)][0],
        f"Die Belegung schwankt am Tag nur noch um {now_swing:.0%}, in der Woche davor um "
        f"{then_swing:.0%}: melden weniger Sensoren (wie in Mantova)?".replace("%", " %"),
        f"Occupancy now swings by only {now_swing:.0%} a day, {then_swing:.0%} the week before: are "
        "fewer sensors reporting (as in Mantova)?",
    )


SiteRule = Callable[[SiteFacts, Thresholds, int], Problem | None]
SITE_RULES: tuple[SiteRule, ...] = (reporting_drop, swing_shrink)


def evaluate_site(facts: SiteFacts, thresholds: Thresholds, now_ns: int) -> list[Problem]:
    found = []
    for rule in SITE_RULES:
        problem = rule(facts, thresholds, now_ns)
        if problem is not None:
            found.append(problem)
    return found
