"""FastAPI dependencies: everything a route needs comes from the app's state through these."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.broadcast import Broadcaster
from api.current import CurrentView
from api.forecasts import ForecastService
from api.guidance import Guide
from api.livefeed import LiveFeed
from api.settings import ApiSettings
from api.simulators import SimulatorBook
from parking.events import NAME_PATTERN
from parking.history.rollups import RollupKeeper
from parking.registry import Registry, Site
from parking.state import BayState, LiveState
from parking.store import InfluxStore


@dataclass
class Services:
    """Long-lived objects opened in the lifespan and closed there."""

    settings: ApiSettings
    registry: Registry
    store: InfluxStore
    live: LiveState
    broadcaster: Broadcaster
    feed: LiveFeed
    simulators: SimulatorBook
    guide: Guide
    current: CurrentView
    forecasts: ForecastService
    rollups: RollupKeeper


# The dependencies are coroutines although they do no I/O: FastAPI runs plain functions in its
# thread pool, a hand-off that costs more than the work on every request.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
# Two names for the same token, so that the OpenAPI document can say which operations always need
# it (control) and which only when PARKLOTSE_API_PRIVATE_READS is set (reads; see api.app).
TOKEN_SCHEME = "ApiToken"
READ_TOKEN_SCHEME = "ReadToken"
_bearer = HTTPBearer(
    auto_error=False, scheme_name=TOKEN_SCHEME, description="The API token (PARKLOTSE_API_TOKEN)"
)
_read_bearer = HTTPBearer(
    auto_error=False,
    scheme_name=READ_TOKEN_SCHEME,
    description="The API token, needed for reads when PARKLOTSE_API_PRIVATE_READS is set",
)


def check_token(services: Services, credentials: HTTPAuthorizationCredentials | None) -> None:
    expected = services.settings.api_token.get_secret_value()
    given = credentials.credentials if credentials is not None else ""
    if credentials is None or not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def require_token(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    check_token(services, credentials)


async def read_access(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_read_bearer)]
) -> None:
    if services.settings.api_private_reads:
        check_token(services, credentials)


async def fleet_access(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_read_bearer)]
) -> None:
    """The sensors' health: staff's (ApiSettings.fleet_needs_token)."""
    if services.settings.fleet_needs_token:
        check_token(services, credentials)


SiteId = Annotated[
    str, Path(pattern=f"^{NAME_PATTERN}$", description="Site id, e.g. showroom", examples=["showroom"])
]


async def get_site(site: SiteId, services: ServicesDep) -> Site:
    found = services.registry.site(site)
    if found is None:
        raise unknown_site(site)
    return found


SiteDep = Annotated[Site, Depends(get_site)]


def unknown_site(site: str) -> HTTPException:
    """The 404 for a site the registry does not have."""
    return HTTPException(status.HTTP_404_NOT_FOUND, f"site {site!r} is not known")


def unknown_bay(site: Site, bay: str) -> HTTPException:
    """The 404 for a bay the site does not have."""
    return HTTPException(status.HTTP_404_NOT_FOUND, f"bay {bay!r} is not known in site {site.id!r}")


def unknown_zone(site: Site, zone: str) -> HTTPException:
    """The 404 for a zone the site does not have, listing the zones it does."""
    return HTTPException(
        status.HTTP_404_NOT_FOUND,
        f"zone {zone!r} is not known in site {site.id!r} (zones: {', '.join(site.zones)})",
    )


def current_states(site: Site, services: Services) -> list[BayState]:
    """The site's bays as shown now: a sensor silent too long counts as unknown."""
    return services.current.of(site).states
