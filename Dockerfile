# The Parklotse application image: one image, one command per service (ingest, api, simulate).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY parking ./parking
COPY ingest ./ingest
COPY api ./api
COPY simulator ./simulator
COPY dashboards ./dashboards
COPY parklotse ./parklotse
COPY forecast ./forecast
# dashboards.assets: the kiosk's plotly.js bundle from the npm registry, checked against its pinned hash,
# kept beside the installed package (run from / so that the installed copy is the one imported).
RUN pip install . && (cd / && python -m dashboards.assets) && useradd --system --uid 10001 --home /data parklotse && mkdir -p /data && chown parklotse /data

USER parklotse
# Site files: the packaged samples, unless a folder is mounted at /app/sites (./sites in the working
# directory comes before the samples) or PARKLOTSE_SITES_DIR names another.
ENV PARKLOTSE_SPOOL_DIR=/data/spool \
    PARKLOTSE_DEADLETTER_DIR=/data/deadletter
VOLUME ["/data"]
ENTRYPOINT ["parklotse"]
CMD ["--help"]
