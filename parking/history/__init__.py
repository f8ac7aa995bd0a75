"""Occupancy history over ``bay_status``: what the API's history endpoints answer (docs/history.md).

Modules, from the pure core outwards:

- ``windows``: durations, aligned intervals, range checks (pure).
- ``influxql``: every InfluxQL statement Parklotse sends (pure text).
- ``sums``: per-minute profiles, sums per interval, rollup rows, heatmap cells (pure).
- ``visits``: a bay's timeline and the dwell times of visits (pure).
- ``readers``: the reads from InfluxDB, in chunks and pages of bounded cost.
- ``coalescer``: identical reads in flight made once.
- ``rollups``: the keeper of the 5-minute and hourly rollups.
- ``planner``: which reads (rollups, raw tail) answer a window.
- ``answers``: each endpoint's answer; ``models`` its shape.

How a bay's state is counted: its latest reading, carried forward until the next one, sampled at
the end of every minute. At the start of a range it comes from the bay's last reading before it (its
seed); a bay without one is unknown until its first reading, never free. Occupancy of an interval is
occupied bay-minutes / known bay-minutes. Those sums add across bays, zones, hours and query parts,
so the raw path, the rollups and any mix of both give the same figures. The textbook
``mean(...) FROM (SELECT last(...) ... GROUP BY time(..), bay fill(previous)) GROUP BY time(..)`` is
not used: InfluxDB 1.x (and 2.x's InfluxQL) merge the filled series wrongly when the outer query
does not group by the bay (influxdata/influxdb#9049, #16960), and it costs bays x minutes rows.
"""
