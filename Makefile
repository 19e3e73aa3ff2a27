# Quart Template — `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help install run migrate test lint format docs migration bench clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,speed,uvicorn]"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the app with its dev tools

migrate: $(STAMP) ## Upgrade the configured database (SQLite ./var/app.db by default)
	$(BIN)/quart-template migrate

run: migrate ## Install, migrate and serve on http://localhost:5000 (HOST, PORT from the environment or .env)
	exec $(BIN)/quart-template serve

test: $(STAMP) ## Run the test suite (SQLite; TEST_DATABASE_URL/TEST_AMQP_URL for MariaDB/RabbitMQ)
	$(BIN)/pytest

lint: $(STAMP) ## ruff check, ruff format --check, mypy --strict on src/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: $(STAMP) ## Regenerate the endpoint table in docs/api.md from the app's OpenAPI document
	$(BIN)/python docs/generate.py

migration: $(STAMP) ## Regenerate the initial Alembic revision from the models (pre-release only)
	rm -f src/quart_template/alembic/versions/0001_initial.py var/migration.db
	mkdir -p var
	DATABASE_URL=sqlite+aiosqlite:///var/migration.db $(BIN)/alembic revision --autogenerate --rev-id 0001 -m initial
	rm -f var/migration.db
	$(BIN)/ruff format src/quart_template/alembic/versions
	$(BIN)/ruff check --fix -q src/quart_template/alembic/versions || true

bench: $(STAMP) ## Run the benchmarks in bench/ (they print numbers)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
