# Quart Template API: `quart-template serve` (Hypercorn; Uvicorn with ASGI_SERVER=uvicorn) on :5000.
# Migrations are a separate step (`quart-template migrate`, the compose file's `migrate` service),
# so replicas never race.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=5000

WORKDIR /app
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

# Dependencies first, from pyproject.toml alone: this layer stays cached while only the code changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
extras = p['optional-dependencies']; \
print('\n'.join(p['dependencies'] + extras['speed'] + extras['uvicorn']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the app, as a plain install: migrations and templates ship inside the package.
COPY README.md ./
COPY src ./src
RUN pip install --no-deps . \
    && rm -rf /app/src \
    && mkdir -p /app/var \
    && chown app:app /app/var

USER app
EXPOSE 5000

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('PORT', '5000'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/readyz', timeout=4).status == 200 else 1)"]

# exec form: serve is PID 1, so docker stop's SIGTERM reaches it (graceful shutdown).
CMD ["quart-template", "serve"]
