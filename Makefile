# custodes: the two commands a new machine needs are `make demo` and `make test`.
# Both create the virtual environment and install what they need (Python packages and
# the Debian packages the reports and tests use) before running.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR ?= demo-output

.PHONY: demo test lint fmt bench fuzz sysdeps venv interop clean

# Debian packages: graphviz renders the data-flow diagram (dot -> SVG); the governance
# store's tests start a throwaway PostgreSQL server; the dashboard is tested in Debian's
# chromium, driven by Playwright (which cannot download its own browsers here).
sysdeps:
	@missing=""; command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,lint]'
	# The CPU wheel of torch, for real .pt fixtures; any other torch spec pulls GBs of CUDA.
	$(BIN)/python -m pip install -q torch==2.13.0
	touch $(STAMP)

venv: $(STAMP)

# The official OpenSSF model-signing CLI, in its own venv: custodes must interoperate with
# it (tests sign and verify both ways) but never depend on it.
INTEROP := .venv-interop
$(INTEROP)/.installed:
	$(PYTHON) -m venv $(INTEROP)
	$(INTEROP)/bin/python -m pip install -q --upgrade pip
	$(INTEROP)/bin/python -m pip install -q 'model-signing>=1.1.1' 'pyopenssl>=24'
	touch $@

interop: $(INTEROP)/.installed

demo: sysdeps venv
	$(BIN)/custodes demo $(DEMO_DIR)

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

fmt: venv
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

test: sysdeps venv interop lint
	$(BIN)/python -m pytest -n 2 -q

bench: sysdeps venv
	$(BIN)/python -m pip install -q 'kingfisher-bin>=2.14' 'detect-secrets>=1.5'
	$(BIN)/python benchmarks/bench_threatmodel.py
	$(BIN)/python benchmarks/bench_secrets.py
	$(BIN)/python benchmarks/bench_audit.py
	$(BIN)/python benchmarks/bench_server.py --clients 16 --seconds 60 --backend both --kill
	PYTHONPATH=src $(BIN)/python benchmarks/bench_monitor.py
	$(BIN)/python benchmarks/bench_monitor_http.py --seconds 60 --clients 8

# Long fuzzing campaigns (FUZZ_SECONDS per target, default 600): not part of `make test`.
FUZZ_SECONDS ?= 600
fuzz: venv
	$(BIN)/python -m pip install -q 'atheris>=2.3' || echo 'atheris unavailable: the fuzz targets fall back to hypothesis'
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/python benchmarks/fuzz_pickle.py
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/python benchmarks/fuzz_notebook.py

clean:
	rm -rf $(VENV) $(INTEROP) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
