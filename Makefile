# martops: every target sets up .venv from the lock first, from nothing but make and Python 3.11, 3.12
# or 3.13 (one lock for the three: `make lock` checks it installs the same set on each found).
SUPPORTED_PYTHONS := 3.11 3.12 3.13
PYENV_ROOT ?= $(HOME)/.pyenv
# $(call find_python,3.12): a command that runs that Python: python3.12 on PATH, else a pyenv install of
# it (pyenv's shims answer only for versions made global); empty when there is none.
find_python = $(shell for p in python$(1) $(wildcard $(PYENV_ROOT)/versions/$(1).*/bin/python$(1)); do \
	[ "$$($$p -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$(1)" ] && { echo $$p; break; }; done)
# PYTHON: the first supported Python found, else python3 (refused below unless supported).
# Pick another with `make demo PYTHON=python3.12`; changing it rebuilds .venv.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(or $(call find_python,3.11),$(call find_python,3.12),$(call find_python,3.13),python3)
endif
PYVER  := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(PYVER)
PY     := $(BIN)/python
DEMO   := demo-out
# `make test-pythons` runs these on every other supported Python found
SMOKE_TESTS := tests/test_cli.py tests/campaigns/test_kpis_cli.py

# $(call make_venv,PYTHON,DIR): DIR becomes a fresh venv of PYTHON holding the lock and martops (editable)
define make_venv
rm -rf $(2) && $(1) -m venv $(2)
$(2)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/lock.txt
$(2)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
endef

.PHONY: demo notebook test bench bench-attribution bench-dedupe bench-engines bench-markov bench-spark setup lock clean help check-python test-pythons airflow-env dagster-env
.PRECIOUS: .venv-%/.installed

help:
	@echo "make demo   - set up and run the attribution pipeline, the campaign KPI mart, the data checks and a dry run of the onboarding workflow on generated demo data"
	@echo "make test   - set up and run the test suite"
	@echo "make notebook - render notebooks/data-analysis.ipynb to HTML ($(DEMO)/data-analysis.html) on USAGE_WAREHOUSE, else on a demo usage warehouse built from the generator"
	@echo "make bench  - set up and run the benchmarks (1M and 10M sessions; takes minutes)"
	@echo "make bench-spark - the 10M-session attribution run and 1M-person dedupe on DuckDB and on Spark local[2] (tens of minutes)"
	@echo "make bench-markov - Markov/Shapley on 1M path rows and 500 channels beside ChannelAttribution (its own venv .venv-bench-ca; about an hour, mostly ChannelAttribution)"
	@echo "make airflow-env / dagster-env - Airflow's / Dagster's own venv (.venv-airflow, .venv-dagster) for the adapters"
	@echo "make test-pythons - smoke-test the other supported Pythons found ($(SUPPORTED_PYTHONS)) in .venv-X.Y"
	@echo "Python: $(PYTHON) ($(or $(PYVER),does not run)); pick another with PYTHON=python3.12"

setup: $(STAMP)

$(STAMP): requirements/lock.txt pyproject.toml | check-python
	$(call make_venv,$(PYTHON),$(VENV))
	touch $(STAMP)

# Refuses an unsupported or missing PYTHON before anything is created, naming the supported ones found.
check-python: FOUND = $(strip $(foreach v,$(SUPPORTED_PYTHONS),$(call find_python,$(v))))
check-python:
ifeq ($(filter $(PYVER),$(SUPPORTED_PYTHONS)),)
	@echo "martops needs Python 3.11, 3.12 or 3.13, but PYTHON=$(PYTHON) is $(if $(PYVER),Python $(PYVER),not a Python that runs)." >&2
	@echo "Pick one: make $(or $(firstword $(MAKECMDGOALS)),demo) PYTHON=$(or $(firstword $(FOUND)),python3.12)$(if $(FOUND), (supported Pythons found: $(FOUND)), (none is installed here: install one first))." >&2
	@exit 1
endif

demo: $(STAMP)
	$(BIN)/martops attribution generate --out $(DEMO)/challenge.db --conversions 2000 --seed 7 --force
	$(BIN)/martops kpis generate --out $(DEMO)/campaign-exports --seed 7 --start 2023-04-11 --days 150 --force
	$(BIN)/martops loyalty generate --out $(DEMO)/loyalty --seed 7 --force
	$(BIN)/martops usage generate --out $(DEMO)/usage.db --users 2000 --seed 7 --force
	cp src/martops/demo/project.yml $(DEMO)/martops.yml
	$(BIN)/martops steps
	cd $(DEMO) && $(CURDIR)/$(BIN)/martops run --since 2023-09-01 --until 2023-09-07 --force
	cd $(DEMO) && $(CURDIR)/$(BIN)/martops kpis show --by channel_3 --export kpis_by_channel.csv --force
	cd $(DEMO) && $(CURDIR)/$(BIN)/martops loyalty show programme --export loyalty_programme.csv --force
	cd $(DEMO) && $(CURDIR)/$(BIN)/martops usage show tiers --export usage_tiers.csv --force
	$(BIN)/martops crm generate-people --out $(DEMO)/people.csv --records 20000 --force
	$(BIN)/martops crm dedupe --input $(DEMO)/people.csv --id record_id --compare first_name=name \
	  --compare surname=name --compare dob=date --compare email=email --compare phone=phone \
	  --compare address=address --compare postcode=postcode --compare city=city --out $(DEMO)/people_clusters.csv --force
	cd $(DEMO) && $(CURDIR)/$(BIN)/martops check
	cd $(DEMO) && $(CURDIR)/$(BIN)/martops workflows run --dry-run --now 2024-12-31T09:00
	mkdir -p $(DEMO)/reports
	cd $(DEMO) && $(CURDIR)/$(BIN)/martops report send --since 2023-09-01 --until 2023-09-07 $(if $(shell command -v chromium),--pdf)
	@echo "The weekly report: $(DEMO)/weekly-report.html (step report.weekly of martops run) and its delivery in $(DEMO)/reports/"
	@echo "Demo outputs are in $(DEMO)/ (its project file: $(DEMO)/martops.yml). To run the README's commands as written: source $(BIN)/activate"

# The usage analysis notebook, executed from a clean kernel and rendered to HTML. USAGE_WAREHOUSE: a warehouse
# holding the usage marts (`martops usage build`); without it a demo one is built from the generator.
USAGE_WAREHOUSE ?=
NOTEBOOK_WAREHOUSE = $(abspath $(or $(USAGE_WAREHOUSE),$(DEMO)/usage-warehouse.duckdb))
notebook: $(STAMP)
ifeq ($(USAGE_WAREHOUSE),)
	$(BIN)/martops usage generate --out $(DEMO)/usage.db --users 2000 --seed 7 --force
	$(BIN)/martops usage build --source $(DEMO)/usage.db --warehouse $(DEMO)/usage-warehouse.duckdb
endif
	MARTOPS_USAGE_WAREHOUSE=$(NOTEBOOK_WAREHOUSE) $(BIN)/python -m nbconvert --to html --execute \
	  --ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.timeout=600 \
	  notebooks/data-analysis.ipynb --output-dir $(DEMO)
	@echo "The notebook, run on $(NOTEBOOK_WAREHOUSE): $(DEMO)/data-analysis.html"

# Airflow and Dagster each get their own venv from their own lock: the adapters in
# src/martops/automation/orchestration/ import only the stdlib and the orchestrator, and drive the
# core venv's `martops` CLI. A .pth file puts src/ on the venv's path (no martops install there).
ORCH_STAMP = .installed-orchestrator
airflow-env: .venv-airflow/$(ORCH_STAMP)
dagster-env: .venv-dagster/$(ORCH_STAMP)

.venv-%/$(ORCH_STAMP): requirements/%-lock.txt
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "the $* env needs Python 3.11, found " + sys.version'
	rm -rf .venv-$*
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --disable-pip-version-check -r requirements/$*-lock.txt
	echo "$(CURDIR)/src" > "$$(.venv-$*/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/martops-src.pth"
	touch $@

# Two pytest-xdist workers by default, tests spread test by test (--dist load): a module-scoped
# fixture may be built on both workers and each may start a Spark session. --dist loadgroup would keep
# groups together, but pytest-xdist 3.8 cannot group under pytest 9.2 (it renames item._nodeid, which
# pytest 9 no longer reads). tests/conftest.py fixes the table width. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist load) $(PYTEST_ARGS)

bench: bench-attribution bench-dedupe bench-engines bench-markov

bench-attribution: $(STAMP)
	$(BIN)/python benchmarks/bench_attribution.py $(BENCH_ARGS)

bench-dedupe: $(STAMP)
	$(BIN)/python benchmarks/bench_dedupe.py $(DEDUPE_BENCH_ARGS)

# Markov orders 1-3 and Shapley beside ChannelAttribution (issue 17): martops runs in .venv, the reference
# tool in its own venv from requirements/bench-ca.txt (it builds from source, ~1-2 min), each case as a
# subprocess for its own peak memory. MARKOV_BENCH_ARGS: see `python benchmarks/bench_markov.py --help`.
CA_VENV := .venv-bench-ca
bench-markov: $(STAMP) $(CA_VENV)/.installed-ca
	$(BIN)/python benchmarks/bench_markov.py --ca-python $(CA_VENV)/bin/python $(MARKOV_BENCH_ARGS)

$(CA_VENV)/.installed-ca: requirements/bench-ca.txt | check-python
	rm -rf $(CA_VENV) && $(PYTHON) -m venv $(CA_VENV)
	$(CA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/bench-ca.txt
	touch $@

# DuckDB beside PostgreSQL 15 (a server started for it): attribution 1M, the real campaign and CRM builds
# SPARK_BENCH_ARGS: see `python benchmarks/bench_spark.py --help` (e.g. --attribution 1M --people 100k).
bench-spark: $(STAMP)
	$(BIN)/python benchmarks/bench_spark.py $(SPARK_BENCH_ARGS)

bench-engines: $(STAMP)
	$(BIN)/python benchmarks/bench_engines.py $(ENGINES_BENCH_ARGS)

# Regenerate the lock after changing a pin in pyproject.toml: resolved on $(PYTHON), then installed on
# every other supported Python found, which must get exactly the same set (else split the lock per version).
# (pip freeze lists setuptools on 3.12+ only, so the comparison leaves it out.)
lock: check-python
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet -e '.[dev,spark]'
	{ echo "# Full transitive lock (base + dev + spark) for Python $(SUPPORTED_PYTHONS), resolved on $(PYVER). Regenerate: make lock"; \
	  .lockenv/bin/pip freeze --exclude-editable | grep -v -e '^martops' -e '^setuptools=='; echo "setuptools==80.9.0"; } > requirements/lock.txt
	rm -rf .lockenv
	@$(MAKE) --no-print-directory -k $(call other_pythons,lockcheck)

# Test targets for the other supported Pythons: PREFIX-X.Y for each one found, skip-X.Y for the rest.
other_pythons = $(foreach v,$(filter-out $(PYVER),$(SUPPORTED_PYTHONS)),$(if $(call find_python,$(v)),$(1)-$(v),skip-$(v)))

lockcheck-%:
	$(call make_venv,$(call find_python,$*),.lockenv-$*)
	.lockenv-$*/bin/pip check
	@.lockenv-$*/bin/pip freeze --exclude-editable | grep -v -e '^martops' -e '^setuptools==' | LC_ALL=C sort -f > .lockenv-$*/freeze.txt
	@grep -v -e '^#' -e '^setuptools==' requirements/lock.txt | LC_ALL=C sort -f | diff - .lockenv-$*/freeze.txt \
	  || { echo "requirements/lock.txt does not install as locked on Python $* (diff above): give it requirements/lock-$*.txt" >&2; exit 1; }
	rm -rf .lockenv-$*
	@echo "requirements/lock.txt installs as locked on Python $*"

test-pythons:
	@$(MAKE) --no-print-directory -k $(call other_pythons,smoke)

smoke-%: .venv-%/.installed
	.venv-$*/bin/python -m pytest -q -p no:cacheprovider $(SMOKE_TESTS) $(PYTEST_ARGS)

.venv-%/.installed: requirements/lock.txt pyproject.toml
	$(call make_venv,$(call find_python,$*),.venv-$*)
	touch $@

skip-%:
	@echo "Python $* not found (python$* on PATH or a pyenv install): not tested"

clean:
	rm -rf $(VENV) .venv-3.* .venv-airflow .venv-dagster $(CA_VENV) .lockenv* $(DEMO) .pytest_cache .hypothesis
