"""Reads of history from InfluxDB: the statements of ``influxql``, their answers parsed by ``sums``
and ``visits``. Long ranges are read in chunks of bounded cost (``windows.chunks``); the CSV
export in pages, each starting at the last timestamp of the one before.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence

from parking.history.influxql import (
    Scope,
    core_query,
    csv_page_query,
    deep_seed_query,
    rollup_query,
    seed_statement,
    timeline_query,
    transitions_query,
)
from parking.history.sums import (
    Bucket,
    Core,
    Profile,
    build_profile,
    parse_core,
    parse_rollup,
    profile_buckets,
)
from parking.history.visits import (
    DWELL_CHUNK_NS,
    DWELL_MAX_CHANGES,
    VisitTracker,
    parse_transitions,
)
from parking.history.windows import SEED_WINDOW_NS, HistoryError, chunks
from parking.store import InfluxStore, Series, StoreError

log = logging.getLogger(__name__)

CsvRow = tuple[int, str, str, int | None]


async def fetch_core(
    store: InfluxStore,
    scope: Scope,
    start: int,
    end: int,
    *,
    readings: bool = False,
    lasts: bool = False,
    seeds: Mapping[str, tuple[int, int]] | None = None,
) -> Core:
    """Seeds, first readings and per-minute changes in one request.

    A second request only for bays without a reading in the day before ``start``; none when the
    ``seeds`` are known already (the rollup keeper's state at its watermark).
    """
    query = core_query(scope, start, end, seeds=seeds is None, readings=readings, lasts=lasts)
    core = parse_core(await store.query(query, epoch="ns"))
    if seeds is not None:
        core.seeds = {bay: state for bay, state in seeds.items() if scope.covers(bay)}
        return core
    return await _deep_seeds(store, scope, start, core)


async def _deep_seeds(store: InfluxStore, scope: Scope, start: int, core: Core) -> Core:
    """The seeds of the registry's bays without a reading in the day before ``start``, from further back."""
    missing = [bay for bay in scope.known if bay not in core.seeds]
    if missing:
        parse_core(await store.query(deep_seed_query(scope, start, missing), epoch="ns"), core)
    return core


async def fetch_profile(
    store: InfluxStore,
    scope: Scope,
    start: int,
    end: int,
    *,
    readings: bool = False,
    lasts: bool = False,
    seeds: Mapping[str, tuple[int, int]] | None = None,
) -> tuple[Profile, Core]:
    core = await fetch_core(store, scope, start, end, readings=readings, lasts=lasts, seeds=seeds)
    return build_profile(core, start, end), core


async def fetch_seeds(store: InfluxStore, scope: Scope, start: int) -> dict[str, tuple[int, int]]:
    core = parse_core(await store.query(seed_statement(scope, start, start - SEED_WINDOW_NS), epoch="ns"))
    return (await _deep_seeds(store, scope, start, core)).seeds


async def raw_buckets(
    store: InfluxStore,
    scope: Scope,
    start: int,
    end: int,
    every: int,
    seeds: Mapping[str, tuple[int, int]] | None = None,
) -> dict[int, Bucket]:
    profile, _ = await fetch_profile(store, scope, start, end, seeds=seeds)
    return profile_buckets(profile, every)


async def rollup_buckets(
    store: InfluxStore,
    site: str,
    zone: str | None,
    start: int,
    end: int,
    every: int,
    step: int,
    fields: Sequence[str],
) -> dict[int, Bucket]:
    query = rollup_query(site, zone, start, end, every, step_ns=step, fields=fields)
    return parse_rollup(await store.query(query, epoch="ns"))


async def read_timeline(
    store: InfluxStore, site: str, bay: str, start: int, end: int, limit: int
) -> tuple[tuple[int, int] | None, tuple[int, int] | None, list[tuple[int, int]]]:
    """A bay's seed (up to ``SEED_LOOKBACK_NS`` back), first reading and up to ``limit`` changes."""
    series = await store.query(timeline_query(Scope(site, (bay,)), start, end, limit), epoch="ns")
    core = parse_core(series)
    return core.seeds.get(bay), core.firsts.get(bay), parse_transitions(series).get(bay, [])


async def read_visits(store: InfluxStore, scope: Scope, start: int, end: int, horizon: int) -> VisitTracker:
    """Visits arriving in ``[start, end)`` paired with departures up to ``horizon``, read in chunks.

    Only bay changes are read; HistoryError past ``DWELL_MAX_CHANGES`` of them.
    """
    tracker = VisitTracker(start, end)
    for bay, (_, value) in (await fetch_seeds(store, scope, start)).items():
        tracker.seed(bay, value)
    fetched = 0
    for a, b in chunks(start, horizon, DWELL_CHUNK_NS):
        series = await store.query(transitions_query(scope, a, b), epoch="ns")
        transitions = parse_transitions(series)
        fetched += sum(len(v) for v in transitions.values())
        if fetched > DWELL_MAX_CHANGES:
            raise HistoryError(
                f"the range holds more than {DWELL_MAX_CHANGES} bay changes; ask for a shorter range"
            )
        tracker.chunk(parse_core(series), transitions)
    return tracker


def csv_rows(series: Iterable[Series], site: str) -> list[CsvRow]:
    rows: list[CsvRow] = []
    for s in series:
        if s.columns != ["time", "occupied", "bay"]:
            continue
        rows.extend(
            (int(t), site, str(bay), None if occupied is None else int(occupied))
            for t, occupied, bay in s.values
        )
    return rows


async def reading_pages(
    store: InfluxStore, scope: Scope, start: int, end: int, page_size: int
) -> AsyncIterator[list[CsvRow]]:
    """Every stored reading of the scope in time order, page by page.

    The first page is read before this returns, so that a failure then is still an error answer;
    a failure after that ends the iteration with the store's error (the transfer is cut off).
    """

    async def page(from_ns: int) -> list[CsvRow]:
        return csv_rows(
            await store.query(csv_page_query(scope, from_ns, end, page_size), epoch="ns"), scope.site
        )

    first = await page(start)

    async def pages() -> AsyncIterator[list[CsvRow]]:
        rows, fetched = first, len(first)
        while True:
            yield rows
            if fetched < page_size:
                return
            # The next page starts at the last timestamp of this one; the readings at it already
            # sent are skipped (one per bay at most, and a page holds more than twice the bays).
            last_ns = rows[-1][0]
            sent = {bay for t, _, bay, _ in rows if t == last_ns}
            try:
                next_page = await page(last_ns)
            except StoreError:
                log.warning("CSV export of site %s cut off: InfluxDB failed mid-stream", scope.site)
                raise
            fetched = len(next_page)
            rows = [r for r in next_page if not (r[0] == last_ns and r[2] in sent)]
            if not rows:
                return

    return pages()
