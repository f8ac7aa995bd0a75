# The Parklotse application image: one image, one command per service (ingest, api, simulate).

# Build stage: the wheel, its simulator core compiled by mypyc (setup.py). The C compiler stays here.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY parking ./parking
COPY ingest ./ingest
COPY api ./api
COPY simulator ./simulator
COPY dashboards ./dashboards
COPY parklotse ./parklotse
COPY forecast ./forecast
# The kiosk's plotly.js comes with the package (dashboards/plotly/): nothing is fetched at run time.
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install /wheels/parklotse-*.whl \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 parklotse \
    && useradd --system --uid 10001 --gid 10001 --home /data parklotse \
    && mkdir -p /data \
    && chown 10001:10001 /data

# Numeric, so that the host and Kubernetes' runAsNonRoot can tell it is not root.
USER 10001:10001
# Site files: the packaged samples, unless a folder is mounted at /app/sites (./sites in the working
# directory comes before the samples) or PARKLOTSE_SITES_DIR names another. /data is the ingester's
# (spool, dead letters): compose mounts a named volume there; no VOLUME, so that the API and the
# simulator leave no anonymous volumes behind.
ENV PARKLOTSE_SPOOL_DIR=/data/spool \
    PARKLOTSE_DEADLETTER_DIR=/data/deadletter
ENTRYPOINT ["parklotse"]
CMD ["--help"]
