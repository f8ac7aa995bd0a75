"""``parklotse forecast backtest``: measure the forecaster against simple baselines on anyone's CSV.

    parklotse forecast backtest --csv FILE [--test-from DATE] [--report-json PATH]
                                [--holidays DE-SH] [--tz ZONE] [--no-progress]

Exit codes: 0 done, 2 bad input (one line naming the file, flag or shortfall).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from forecast.calendar import DEFAULT_REGION

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="forecast_action", required=True, metavar="ACTION")
    backtest = actions.add_parser(
        "backtest",
        help="back-test the forecaster and the baselines on a CSV of occupancy readings",
        description="Rolling origins over the test period (default: the last quarter of the data), the "
        "model refitted daily on what was known before; prints per horizon the mean absolute error in "
        "percentage points of capacity of the model, the last value carried forward, the same slot a "
        "week earlier and the weekday × half-hour median, on the same forecasts (n). CSV columns: time "
        "(ISO 8601 with offset or Z), place_id, capacity and occupied, free or occupancy (0..1).",
    )
    backtest.add_argument("--csv", type=Path, required=True, help="readings, one row per observation")
    backtest.add_argument("--test-from", type=date.fromisoformat, help="first test day YYYY-MM-DD (local)")
    backtest.add_argument("--report-json", type=Path, help="also write the table as JSON here")
    backtest.add_argument(
        "--holidays",
        default=DEFAULT_REGION,
        help=f"public-holiday region, country[-subdivision] (default {DEFAULT_REGION}; e.g. GB-ENG, IT)",
    )
    backtest.add_argument("--tz", help="local time zone for time of day (default: each time stamp's offset)")
    backtest.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    # The model's libraries take a second to import; only this command needs them.
    from tqdm import tqdm

    from forecast import report
    from forecast.backtest import BacktestError, run_backtest, test_start_from_date
    from forecast.calendar import HolidayCalendar, RegionError
    from forecast.data import CsvError, load_csv
    from forecast.model import NotEnoughHistory

    try:
        calendar = HolidayCalendar(args.holidays)
        loaded = load_csv(args.csv, args.tz)
        start = None if args.test_from is None else test_start_from_date(loaded.series, args.test_from)
        result = run_backtest(
            loaded.series,
            calendar,
            start,
            progress=lambda days: tqdm(
                days, desc="refits (one per test day)", unit="day", disable=args.no_progress, file=sys.stderr
            ),
        )
    except (CsvError, RegionError, BacktestError, NotEnoughHistory) as exc:
        print(f"parklotse forecast backtest: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"parklotse forecast backtest: cannot read {args.csv}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    scores = report.score(result)
    print(report.render(loaded, result, scores))
    if args.report_json:
        document = report.to_json(loaded, result, scores, source=str(args.csv))
        args.report_json.write_text(json.dumps(document, indent=2) + "\n")
    return EXIT_OK
