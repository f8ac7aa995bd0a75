"""FastAPI dependencies: everything a route needs comes from the app's state through these."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.broadcast import Broadcaster
from api.guidance import Guide
from api.livefeed import LiveFeed
from api.settings import ApiSettings
from api.simulators import SimulatorBook
from parking.events import NAME_PATTERN
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


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
_bearer = HTTPBearer(auto_error=False)


def require_token(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    expected = services.settings.api_token.get_secret_value()
    if credentials is None or credentials.credentials != expected:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )


def read_access(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    if services.settings.api_private_reads:
        require_token(services, credentials)


SiteId = Annotated[
    str, Path(pattern=f"^{NAME_PATTERN}$", description="Site id, e.g. showroom", examples=["showroom"])
]


def get_site(site: SiteId, services: ServicesDep) -> Site:
    found = services.registry.site(site)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"site {site!r} is not known")
    return found


SiteDep = Annotated[Site, Depends(get_site)]


def current_states(site: Site, services: Services) -> list[BayState]:
    """The site's bays as shown now: a sensor silent too long counts as unknown."""
    now = time.time_ns()
    stale = int(services.settings.stale_after_s * 1e9)
    return [s.with_staleness(now, stale) for s in services.live.site_bays(site.id)]
