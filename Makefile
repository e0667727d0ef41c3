# Two commands matter: `make demo` and `make test`. Both build .venv from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench,postgres,dask]'
	touch $(STAMP)

# The real programs the tests use (git, headless Chromium, Prometheus and promtool, openssl, a PostgreSQL
# server, Graphviz's dot), from Debian's packages. The report, Prometheus, PostgreSQL store and graph
# drawing tests fail (never skip) without them, so `make test` installs them first.
system-deps:
	@missing=""; \
	command -v chromium   >/dev/null || missing="$$missing chromium"; \
	command -v git        >/dev/null || missing="$$missing git"; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v promtool   >/dev/null || missing="$$missing prometheus"; \
	command -v openssl    >/dev/null || missing="$$missing openssl"; \
	command -v dot        >/dev/null || missing="$$missing graphviz"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

demo: $(STAMP)
	$(BIN)/rca demo

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m tests.bench --quick

clean:
	rm -rf $(VENV) whydunnit-data .pytest_cache test-artifacts
