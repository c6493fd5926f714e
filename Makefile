# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when missing and
# install the project into it; running them again only reinstalls when pyproject.toml changed.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.lakewarden-installed

export SPARK_LOCAL_IP ?= 127.0.0.1
export MLFLOW_DISABLE_TELEMETRY := true
export PYSPARK_PYTHON := $(abspath $(PY))

.PHONY: demo test test-fast lint java python venv clean bench

demo: java venv
	$(VENV)/bin/lakewarden demo

test: java venv lint
	$(PY) -m pytest --durations=25

# The tests that start no Spark, server or subprocess (the rest are marked `integration`): about two minutes.
test-fast: venv
	$(PY) -m pytest -m "not integration"

lint: venv
	$(VENV)/bin/ruff check config monitor alerts retrain tests $(wildcard bench)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

venv: python $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "lakewarden needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)." >&2; \
	  echo "Install Python 3.11+ and run again, or point to it: make PYTHON=/path/to/python3.11 ..." >&2; \
	  exit 1; }

# PySpark needs a Java 17 or 21 runtime; stop early with a message that says how to get one.
java:
	@java_bin=$${JAVA_HOME:+$$JAVA_HOME/bin/}java; \
	if ! command -v $$java_bin >/dev/null 2>&1; then \
	  echo "lakewarden needs Java 17 or newer (local Spark runs on it), and no 'java' was found." >&2; \
	  echo "Install it: 'sudo apt-get install openjdk-17-jre-headless' (Debian/Ubuntu)," >&2; \
	  echo "'brew install openjdk@17' (macOS), or set JAVA_HOME to a JDK 17+." >&2; exit 1; fi; \
	major=$$($$java_bin -version 2>&1 | awk -F'"' '/version/ {print $$2}' | awk -F. '{print ($$1 == "1") ? $$2 : $$1}'); \
	if [ -z "$$major" ] || [ "$$major" -lt 17 ]; then \
	  echo "lakewarden needs Java 17 or newer; found Java $${major:-unknown} ($$java_bin)." >&2; \
	  echo "Install openjdk-17-jre-headless (or newer) and set JAVA_HOME to it." >&2; exit 1; fi

# The drift bench: lakewarden (project venv, local Spark) against NannyML and Evidently, which live in
# their own venv (bench/.venv, about 2.3 GB) and are never project dependencies. BENCH_SIZES=1000000,10000000
# adds the 10M + 10M run (about half an hour on two cores; generates 3.3 GB of Parquet under bench/data).
BENCH_VENV  ?= bench/.venv
BENCH_STAMP := $(BENCH_VENV)/.bench-installed
BENCH_SIZES ?= 1000000

bench: java venv $(BENCH_STAMP)
	NML_DISABLE_USAGE_LOGGING=1 DO_NOT_TRACK=1 $(BENCH_VENV)/bin/python bench/drift.py --sizes $(BENCH_SIZES) \
	  --project-python $(abspath $(PY))

$(BENCH_STAMP): bench/requirements.txt
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -r bench/requirements.txt
	@touch $@

clean:
	rm -rf .lakewarden .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
