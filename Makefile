# Tawasul — one command to run, one to test. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# PostgreSQL used by the second test pass (a fresh database is created inside it per run).
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PORT ?= 5000

.PHONY: install translations modeler browser run test test-sqlite test-postgres lint bench clean

$(BIN)/.installed: pyproject.toml package.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	npm install --no-audit --no-fund --loglevel=error
	touch $@

## Arabic and English catalogues of the web app (compiled from the .po files in the repository).
translations: $(BIN)/.installed
	$(BIN)/pybabel compile -d web/translations 2>/dev/null

## The modeler's front end, bundled from npm with esbuild (web/static/build/, never committed).
MODELER_BUILD := web/static/build/modeler.js
$(MODELER_BUILD): $(BIN)/.installed $(wildcard web/modeler_src/*.* web/modeler_src/*/*.*)
	node web/modeler_src/build.mjs

modeler: $(MODELER_BUILD)

install: $(BIN)/.installed translations modeler

## Debian's Chromium for the browser tests (the only browser Playwright is pointed at).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## Run Tawasul on the embedded SQLite database (instance/tawasul.db).
run: install
	$(BIN)/tawasul init
	$(BIN)/tawasul deploy bpmn/*.bpmn
	@# Demo data goes into an empty database; a second run says in one line that it is loaded. On a
	@# database holding other data it says why it loads nothing, and the server starts all the same.
	@$(BIN)/tawasul demo >/dev/null || echo "make: no demo data loaded (the line above says why); serving the database as it is"
	$(BIN)/tawasul serve --port $(PORT)

## The whole suite: lint, layering, tests on SQLite, then again on PostgreSQL.
test: lint test-sqlite test-postgres

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test-sqlite: install browser
	$(BIN)/python -m pytest -p no:cacheprovider

test-postgres: install browser
	TAWASUL_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -p no:cacheprovider

bench: install
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache *.egg-info web/static/build
