# martops: every target sets up .venv from the lock first, from nothing but Python 3.11 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PY     := $(BIN)/python
DEMO   := demo-out

.PHONY: demo test bench bench-attribution bench-dedupe setup lock clean help

help:
	@echo "make demo   - set up and run the attribution pipeline, the campaign KPI mart and the data checks on generated demo data"
	@echo "make test   - set up and run the test suite"
	@echo "make bench  - set up and run the benchmarks (1M and 10M sessions; takes minutes)"

setup: $(STAMP)

$(STAMP): requirements/lock.txt pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "martops needs Python 3.11, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/lock.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/martops attribution generate --out $(DEMO)/challenge.db --conversions 2000 --seed 7 --force
	$(BIN)/martops attribution run --db $(DEMO)/challenge.db --since 2023-09-01 --until 2023-09-07 \
		--model ihc --warehouse $(DEMO)/warehouse.duckdb --export $(DEMO)/channel_reporting.csv --write-back --force
	$(BIN)/martops kpis generate --out $(DEMO)/campaign-exports --seed 7 --force
	$(BIN)/martops kpis build --source $(DEMO)/campaign-exports --warehouse $(DEMO)/warehouse.duckdb
	$(BIN)/martops kpis show --warehouse $(DEMO)/warehouse.duckdb --by channel_3 --export $(DEMO)/kpis_by_channel.csv --force
	$(BIN)/martops crm generate-people --out $(DEMO)/people.csv --records 20000 --force
	$(BIN)/martops crm dedupe --input $(DEMO)/people.csv --id record_id --compare first_name=name \
	  --compare surname=name --compare dob=date --compare email=email --compare phone=phone \
	  --compare address=address --compare postcode=postcode --compare city=city --out $(DEMO)/people_clusters.csv --force
	$(BIN)/martops check --warehouse $(DEMO)/warehouse.duckdb

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: bench-attribution bench-dedupe

bench-attribution: $(STAMP)
	$(BIN)/python benchmarks/bench_attribution.py $(BENCH_ARGS)

bench-dedupe: $(STAMP)
	$(BIN)/python benchmarks/bench_dedupe.py $(DEDUPE_BENCH_ARGS)

# Regenerate the lock after changing a pin in pyproject.toml.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet -e '.[dev]'
	{ echo "# Full transitive lock for Python 3.11 (base + dev). Regenerate: make lock"; \
	  .lockenv/bin/pip freeze --exclude-editable | grep -v '^martops'; echo "setuptools==80.9.0"; } > requirements/lock.txt
	rm -rf .lockenv

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .hypothesis
