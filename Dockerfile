# Quart Template API: `quart-template migrate`, then `quart-template serve` (Hypercorn) on :5000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_ENV=production \
    PORT=5000

WORKDIR /app
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

# Dependencies first (cached while only the source changes), then the app itself.
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY src ./src
# Editable: `quart-template migrate` finds alembic/ next to src/, as in a checkout.
RUN pip install -e ".[speed]" \
    && mkdir -p /app/var \
    && chown app:app /app/var

USER app
EXPOSE 5000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('PORT', '5000'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]

# exec: serve replaces the shell, so docker stop's SIGTERM reaches it (graceful shutdown).
CMD ["sh", "-c", "quart-template migrate && exec quart-template serve --host 0.0.0.0 --port \"${PORT:-5000}\""]
