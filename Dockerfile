# One image for both roles: `imagejobs serve` (the default) and `imagejobs worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    LOG_FORMAT=json \
    SHUTDOWN_GRACE=20

WORKDIR /app
COPY pyproject.toml README.md ./
COPY imagejobs ./imagejobs
COPY graph ./graph
COPY models ./models
COPY processing ./processing
RUN pip install . && rm -rf /app/build \
    && useradd --system --uid 10001 --no-create-home imagejobs

USER imagejobs
EXPOSE 8000
# SIGTERM drains in-flight images within SHUTDOWN_GRACE: give `docker stop`
# a longer timeout than that (compose sets stop_grace_period).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/healthz', timeout=4)"
CMD ["imagejobs", "serve"]
