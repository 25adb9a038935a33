# 尼崎市 AI アシスタント — developer entry points. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-data.txt | sha1sum | cut -c1-12)

.PHONY: run test check test-fast package bench config-table readme clean citizen-assets audit

$(STAMP): requirements.txt requirements-data.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-data.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

## Start the bot on 127.0.0.1:3978 (SQLite under ./var, offline unless an LLM is configured), the citizen page
## (/citizen, through a local Direct Line stand-in on 3979) and the Agents Playground.
run: $(STAMP) citizen-assets
	@scripts/run.sh

## Copy Bot Framework Web Chat's browser bundle from node_modules into build/citizen (served at /citizen; npm ci
## first when node_modules lacks it). Without Node.js it says so and the page shows a Japanese notice instead.
citizen-assets:
	@scripts/citizen_assets.sh

## Run the checks and the whole test suite (PostgreSQL tests run when 127.0.0.1:5432 answers; REQUIRE_POSTGRES=1
## makes them mandatory): ruff, mypy on core/ and cards/, the import contracts (pyproject.toml), then pytest.
test: $(STAMP) check citizen-assets
	$(PY) -m pytest
	@if [ -x infra/scan.sh ]; then infra/scan.sh; fi

## Static checks only: lint (ruff), types (mypy), import direction (import-linter contracts in pyproject.toml).
check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## Known-vulnerability audit of requirements.txt (pip-audit in .venv-audit, PyPI's JSON API, cache in .cache/pip-audit;
## waivers with reasons in infra/audit-waivers.txt). Pins it could not audit are listed; AUDIT_STRICT=1 fails on them.
audit: $(STAMP)
	$(PY) scripts/audit_deps.py

## Tests without the end-to-end Playground test and the IaC scan.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not e2e"

## Build build/appPackage.zip for Teams (needs TEAMS_APP_ID and MicrosoftAppId).
package: $(STAMP)
	$(PY) -m manifest

## Print the configuration table (generated from the settings classes).
config-table: $(STAMP)
	@$(PY) -m bot config-table

## Regenerate the README's configuration table from the settings classes.
readme: $(STAMP)
	@$(PY) -m bot.readme

clean:
	rm -rf $(VENV) build var node_modules .venv-iac .venv-audit .cache
