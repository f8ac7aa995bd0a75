"""InfluxDB through its v1-compatible HTTP API: line protocol to /write, InfluxQL over /query.

That one dialect is served by InfluxDB 1.x natively, 2.x through its compatibility endpoints and 3.x
Core, so a municipality can run any generation. Credentials go as ``u``/``p`` query parameters, the
one form every generation accepts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import httpx

from parking.lineprotocol import influxql_identifier
from parking.settings import CommonSettings

log = logging.getLogger(__name__)


class StoreError(Exception):
    """Base of every storage failure; the message is meant for a human."""


class StoreUnavailable(StoreError):
    """The server could not be reached or failed (connection refused, timeout, 5xx): worth retrying."""


class StoreRejected(StoreError):
    """The server understood and refused (bad credentials, bad data, bad query): retrying won't help."""


class DatabaseNotFound(StoreRejected):
    """The database does not exist (yet)."""


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=False)) for row in self.values]


class InfluxStore:
    """An async client for one database; open it with ``async with`` or call ``close()``."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self._auth = {"u": username or "parklotse", "p": password} if password else {}
        self._client = httpx.AsyncClient(
            base_url=self.url,
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=20),
        )

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> InfluxStore:
        return cls(
            settings.influx_url,
            settings.influx_db,
            username=settings.influx_username,
            password=settings.influx_password.get_secret_value() if settings.influx_password else None,
            timeout_s=settings.influx_timeout_s,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._client.aclose()

    async def ping(self) -> str:
        """The server's version, or StoreUnavailable."""
        response = await self._send("GET", "/ping")
        return str(response.headers.get("X-Influxdb-Version", "unknown"))

    async def ensure_database(self) -> None:
        """CREATE DATABASE is idempotent on 1.x; 2.x/3.x create buckets on first write instead."""
        try:
            await self._send(
                "POST", "/query", params={"q": f"CREATE DATABASE {influxql_identifier(self.database)}"}
            )
        except StoreRejected as exc:
            log.info("influxdb did not create the database (normal on InfluxDB 2.x/3.x): %s", exc)

    async def write(self, lines: Sequence[str]) -> None:
        """Write line-protocol points at nanosecond precision; returns once the server acknowledged."""
        if not lines:
            return
        body = "\n".join(lines).encode()
        try:
            await self._send("POST", "/write", params={"db": self.database, "precision": "ns"}, content=body)
        except DatabaseNotFound:
            # A database dropped or never created (first start against an empty 1.x server).
            await self.ensure_database()
            await self._send("POST", "/write", params={"db": self.database, "precision": "ns"}, content=body)

    async def query(self, q: str, *, epoch: str = "ms") -> list[Series]:
        """Run InfluxQL statements; returns the series of all of them in order.

        A missing database is created and the query run again, as a write does: on a fresh system
        (the API started before anything was written) history is empty, not an error.
        """
        try:
            return await self._query(q, epoch)
        except DatabaseNotFound:
            await self.ensure_database()
            return await self._query(q, epoch)

    async def _query(self, q: str, epoch: str) -> list[Series]:
        response = await self._send("GET", "/query", params={"db": self.database, "q": q, "epoch": epoch})
        payload = response.json()
        series: list[Series] = []
        for result in payload.get("results", []):
            if "error" in result:
                if _missing_database(result):
                    raise DatabaseNotFound(f"InfluxDB has no database {self.database!r}")
                raise StoreRejected(f"InfluxDB refused the query: {result['error']}")
            for s in result.get("series", []):
                series.append(
                    Series(s.get("name", ""), s.get("tags") or {}, s["columns"], s.get("values") or [])
                )
        return series

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        params = {**kwargs.pop("params", {}), **self._auth}
        try:
            response = await self._client.request(method, path, params=params, **kwargs)
        except httpx.TimeoutException as exc:
            raise StoreUnavailable(
                f"InfluxDB at {self.url} did not answer in time ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"InfluxDB at {self.url} is unreachable: {exc or type(exc).__name__}"
            ) from exc
        if response.status_code >= 500:
            raise StoreUnavailable(
                f"InfluxDB at {self.url} failed with {response.status_code}: {_error_text(response)}"
            )
        if response.status_code in (401, 403):
            raise StoreRejected(
                f"InfluxDB at {self.url} refused the credentials ({response.status_code}); "
                "check PARKLOTSE_INFLUX_USERNAME and PARKLOTSE_INFLUX_PASSWORD"
            )
        if response.status_code == 404 and "database not found" in response.text:
            raise DatabaseNotFound(f"InfluxDB has no database {self.database!r}")
        if response.status_code >= 400:
            raise StoreRejected(f"InfluxDB refused {path} ({response.status_code}): {_error_text(response)}")
        return response


def _missing_database(result: dict[str, Any]) -> bool:
    """InfluxDB 1.x says so for one statement; of several, the first is only "not executed"."""
    error = str(result["error"])
    return error.startswith("database not found") or (
        error == "not executed" and result.get("statement_id") == 0
    )


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(data, dict):
        return str(data.get("error") or data.get("message") or data)[:300]
    return str(data)[:300]
