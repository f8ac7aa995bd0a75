"""The ``parklotse`` command: ingest, api, simulate, demo. Flags override PARKLOTSE_* variables."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from parking.logs import configure_logging
from parking.registry import SiteFileError
from parking.store import StoreError

log = logging.getLogger("parklotse")


def _common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mqtt-url", help="broker, e.g. mqtt://127.0.0.1:1883 (PARKLOTSE_MQTT_URL)")
    parser.add_argument("--influx-url", help="InfluxDB, e.g. http://127.0.0.1:8086 (PARKLOTSE_INFLUX_URL)")
    parser.add_argument("--influx-db", help="database name (PARKLOTSE_INFLUX_DB, default parking)")
    parser.add_argument(
        "--sites-dir",
        type=Path,
        help="folder of site GeoJSON files (default: PARKLOTSE_SITES_DIR, else ./sites, else the samples)",
    )
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parklotse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = sub.add_parser("ingest", help="store sensor readings from MQTT in InfluxDB")
    _common_flags(ingest)
    ingest.add_argument("--share-group", help="join an MQTT v5 shared subscription group to split the load")
    ingest.add_argument("--metrics-port", type=int, help="port of /metrics and /healthz (0: off)")

    api = sub.add_parser("api", help="serve the HTTP API and the live page")
    _common_flags(api)
    api.add_argument("--host", dest="api_host", help="listen address (PARKLOTSE_API_HOST, default 127.0.0.1)")
    api.add_argument(
        "--port", dest="api_port", type=int, help="listen port (PARKLOTSE_API_PORT, default 8000)"
    )

    simulate = sub.add_parser(
        "simulate",
        help="publish simulated traffic live, or run an offline benefit report, or calibrate",
        description="Live by default: publishes bay changes as sensors would. "
        "--offline writes JSON/HTML reports; 'calibrate' checks the model against published studies.",
    )
    _common_flags(simulate)
    simulate.add_argument(
        "--speed", type=float, default=60.0, help="live: simulated seconds per second, 1 to 600"
    )
    simulate.add_argument(
        "--publish-as",
        choices=["native", "tts"],
        default="native",
        help="live: native topic, or The Things Stack uplinks with Bosch PLS frames",
    )
    simulate.add_argument("--paused", action="store_true", help="live: wait for a start command from staff")
    simulate.add_argument(
        "--preset",
        help="a story of the scenario: werktag (default), markttag, abend, ausfall; live: its day, and the "
        "hours it loops through; offline: every day is one",
    )
    simulate.add_argument("--steering", help="app, signs or both (default: the scenario's)")
    simulate.add_argument(
        "--start-time",
        help="live: start at this time of the preset's day, HH:MM (default: the preset's first hour)",
    )
    simulate.add_argument(
        "--publish-site",
        action="append",
        help="live: publish only this site's bays (repeatable; default: the model's site and every site "
        "that is part of it, e.g. town-centre and showroom)",
    )
    simulate.add_argument(
        "--typical-days",
        type=int,
        default=14,
        help="live: days simulated in the background for the typical day and its band (0: off; default 14)",
    )
    from simulator.command import add_arguments

    add_arguments(simulate)

    check = sub.add_parser(
        "check-sites",
        help="check site files and show their bays, zones and sensors (every problem at once)",
    )
    check.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="site files or folders (default: PARKLOTSE_SITES_DIR, else ./sites, else the sample sites)",
    )

    letters = sub.add_parser(
        "deadletters",
        help="what the ingester refused and why; replay it once the cause is fixed",
        description="summary (default): counts per reason and topic from the kept dead-letter files. "
        "replay: publish the kept payloads to their original topics again (after fixing a site file "
        "and restarting the ingester); native readings keep the time they were first received.",
    )
    letters.add_argument("action", nargs="?", choices=["summary", "replay"], default="summary")
    letters.add_argument("--mqtt-url", help="broker to replay to (PARKLOTSE_MQTT_URL)")
    letters.add_argument(
        "--dir", dest="deadletter_dir", type=Path, help="dead-letter folder (PARKLOTSE_DEADLETTER_DIR)"
    )
    letters.add_argument("--reason", action="append", default=[], help="only this reason (repeatable)")
    letters.add_argument("--since", help="only letters received at or after this RFC 3339 time")
    letters.add_argument(
        "--dry-run", action="store_true", help="replay: say what would be sent, send nothing"
    )

    forecast = sub.add_parser(
        "forecast", help="occupancy forecasts: back-test the forecaster against simple baselines on a CSV"
    )
    from forecast.command import add_arguments as add_forecast_arguments

    add_forecast_arguments(forecast)

    pilot = sub.add_parser(
        "pilot-secrets",
        help="make a pilot's secrets: CA, broker certificate and users, credentials.env (docs/pilot.md)",
        description="Writes into --dir: credentials.env (every PARKLOTSE_* secret, for "
        "docker-compose.production.yml's --env-file), sensors.csv (each native sensor's user, password and "
        "topic), ca.key, and broker/ (what the broker reads). Run it again after adding bays: every "
        "password and the token already in credentials.env and sensors.csv are kept; delete a line to "
        "have that one made anew.",
    )
    pilot.add_argument(
        "--dir", dest="secrets_dir", type=Path, default=Path("secrets"), help="default ./secrets"
    )
    pilot.add_argument(
        "--host",
        action="append",
        help="a name or address clients reach the broker by (repeatable; mosquitto, localhost are added)",
    )
    pilot.add_argument("--sites-dir", type=Path, help="the site files whose bays get sensor users")

    demo = sub.add_parser(
        "demo", help="run the whole local stack: broker, database, ingester, API, simulator"
    )
    demo.add_argument("--state-dir", type=Path, help="where the demo keeps all its state (default .run/demo)")
    demo.add_argument("--port", dest="api_port", type=int, default=8000, help="API port (default 8000)")
    demo.add_argument("--speed", type=float, default=30.0, help="simulator speed factor (default 30)")
    demo.add_argument(
        "--scenario",
        action="append",
        help="scenarios to simulate (default: showroom, the town model; it publishes town-centre too)",
    )
    demo.add_argument(
        "--preset",
        default="werktag",
        help="the simulators' story: werktag (default), markttag, abend, ausfall",
    )
    demo.add_argument(
        "--secure",
        action="store_true",
        help="lock it down as a pilot is: TLS-only broker with passwords and ACL, InfluxDB with "
        "authentication, a random API token, services in production mode (docs/pilot.md)",
    )
    demo.add_argument(
        "--no-backfill",
        action="store_true",
        help="do not write four weeks of simulated history for the simulated sites before the page opens",
    )
    return parser


def _overrides(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


COMMON = ("mqtt_url", "influx_url", "influx_db", "sites_dir", "log_level")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            where = f"invalid setting {field}: " if field else ""
            print(f"parklotse: {where}{message}", file=sys.stderr)
        return 2
    except (SiteFileError, StoreError, ValueError, OSError) as exc:
        print(f"parklotse: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.command == "ingest":
        from ingest.main import serve as serve_ingest
        from ingest.settings import IngestSettings

        settings = IngestSettings(**_overrides(args, (*COMMON, "share_group", "metrics_port")))
        configure_logging(settings.log_level, settings.log_format)
        asyncio.run(serve_ingest(settings))
        return 0
    if args.command == "api":
        from api.main import serve as serve_api
        from api.settings import ApiSettings

        api_settings = ApiSettings(**_overrides(args, (*COMMON, "api_host", "api_port")))
        configure_logging(api_settings.log_level, api_settings.log_format)
        serve_api(api_settings)
        return 0
    if args.command == "simulate":
        return _simulate(args)
    if args.command == "check-sites":
        from parking.settings import CommonSettings
        from parklotse.sitecheck import check_sites, render, site_files

        paths = args.paths or [CommonSettings().sites_dir]
        result = check_sites(site_files(paths))
        print(render(result))
        return 0 if result.ok else 2
    if args.command == "deadletters":
        return _deadletters(args)
    if args.command == "forecast":
        from forecast.command import run as run_forecast

        return run_forecast(args)
    if args.command == "pilot-secrets":
        return _pilot_secrets(args)
    if args.command == "demo":
        from parklotse.demo import run_demo

        configure_logging("INFO")
        return run_demo(args)
    raise AssertionError(args.command)


def _simulate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from parking.settings import CommonSettings
    from simulator import command
    from simulator.control import Command
    from simulator.live import build_runner, parse_start_hour, run_live
    from simulator.scenario import STEERING_MODES, ScenarioError
    from simulator.settings import SimulatorSettings

    if not command.is_live(args):
        common = CommonSettings(**_overrides(args, COMMON))
        configure_logging(common.log_level, common.log_format)
        return command.run(args, common.sites_dir)
    # Live, it connects to the broker: production mode wants its credentials.
    settings = SimulatorSettings(**_overrides(args, COMMON))
    configure_logging(settings.log_level, settings.log_format)
    try:
        if not 1 <= args.speed <= 600:
            raise ValueError(f"--speed must be between 1 and 600, got {args.speed}")
        if args.steering is not None and args.steering not in STEERING_MODES:
            raise ValueError(f"--steering must be one of {', '.join(STEERING_MODES)}, got {args.steering!r}")
        if not 0 <= args.typical_days <= 366:
            raise ValueError(f"--typical-days must be within 0..366, got {args.typical_days}")
        runner = build_runner(
            args.scenario,
            settings.sites_dir,
            args.speed,
            args.seed,
            args.publish_as,
            preset=args.preset,
            steering=args.steering,
            start_hour=parse_start_hour(args.start_time),
            publish_sites=args.publish_site,
            typical_days=args.typical_days,
        )
    except (ScenarioError, ValueError) as exc:
        print(f"parklotse simulate: error: {exc}", file=sys.stderr)
        return 2
    if args.paused:
        runner.state = replace(runner.state, running=False)
    share = getattr(args, "guidance_share", None)
    if share is not None:
        if not 0 <= share <= 1:
            print(
                f"parklotse simulate: error: --guidance-share must be within 0..1, got {share}",
                file=sys.stderr,
            )
            return 2
        runner.command(Command(guidance_share=share))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    run_live(settings, runner, stop)
    return 0


def _deadletters(args: argparse.Namespace) -> int:
    from ingest import replay
    from ingest.settings import IngestSettings
    from parking.timestamps import parse_rfc3339

    settings = IngestSettings(**_overrides(args, ("mqtt_url", "deadletter_dir")))
    folder = settings.deadletter_dir
    if not folder.is_dir():
        raise ValueError(f"no dead-letter folder at {folder} (set --dir or PARKLOTSE_DEADLETTER_DIR)")
    since = parse_rfc3339(args.since) if args.since else None
    reading = replay.read_letters(folder)
    if args.action == "summary":
        reading.letters = replay.select(reading.letters, args.reason, since)
        print(replay.summary(reading))
        return 0
    chosen = replay.select(reading.letters, args.reason, since)
    resend, skipped = replay.plan(chosen)
    for why, count in skipped.items():
        print(f"skipped {count}: {why}")
    if reading.unreadable:
        print(f"skipped {len(reading.unreadable)} unreadable lines (see 'parklotse deadletters')")
    if args.dry_run:
        for item in resend[:20]:
            print(f"would send {item.topic}: {item.payload[:120]!r}")
        print(f"would replay {len(resend)} of {len(chosen)} dead letters to {settings.mqtt_url}")
        return 0
    try:
        sent = replay.publish(settings, resend)
    except replay.ReplayError as exc:
        print(f"parklotse deadletters: {exc}", file=sys.stderr)
        return 1
    print(
        f"replayed {sent} dead letters to {settings.mqtt_url}; what is still refused comes back as new "
        "dead letters"
    )
    return 0


def _pilot_secrets(args: argparse.Namespace) -> int:
    from parking.registry import load_registry
    from parking.settings import CommonSettings
    from parklotse import secure
    from parklotse.servers import ServerError

    folder: Path = args.secrets_dir.resolve()
    env_file = folder / "credentials.env"
    hosts = [*(args.host or []), *secure.DEFAULT_HOSTS]
    registry = load_registry(args.sites_dir or CommonSettings().sites_dir)
    try:
        secret = secure.prepare(folder, registry, hosts, secure.read_env_file(env_file))
    except ServerError as exc:
        print(f"parklotse pilot-secrets: {exc}", file=sys.stderr)
        return 2
    previous_url = secure.read_env_file(env_file).get("PARKLOTSE_MQTT_URL")
    url = f"mqtts://{args.host[0]}:8883" if args.host else previous_url or "mqtts://mosquitto:8883"
    ca = secure.broker_dir(folder) / "ca.crt"
    secure.write_env_file(
        env_file, secure.credentials(secret, mqtt_url=url, ca_file=ca, influx_url="http://127.0.0.1:8086")
    )
    print(
        f"wrote {env_file} (services' secrets), {folder / 'sensors.csv'} ({len(secret.sensor_passwords)} "
        f"sensors), and {secure.broker_dir(folder)} (the broker's certificate, key and users; CA {ca})"
    )
    return 0
