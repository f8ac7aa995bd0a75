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
COPY sites ./sites
RUN pip install . && useradd --system --uid 10001 --home /data parklotse && mkdir -p /data && chown parklotse /data

USER parklotse
ENV PARKLOTSE_SITES_DIR=/app/sites \
    PARKLOTSE_SPOOL_DIR=/data/spool \
    PARKLOTSE_DEADLETTER_DIR=/data/deadletter
VOLUME ["/data"]
ENTRYPOINT ["parklotse"]
CMD ["--help"]
