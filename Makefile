# Dateline: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
INDEX_DIR ?= var/index
HOST   ?= 127.0.0.1
PORT   ?= 5000
WORKERS ?= 2
# One thread per worker: every thread keeps its own Whoosh searcher (~370 MB at 56k articles),
# and on 2 cores 2x1 served more requests with a lower p99 than 2x4 (README "Benchmarks").
THREADS ?= 1
CORPUS := corpus/articles corpus/data

.PHONY: run index serve test check lock clean-index browser-deps browser-js

# Set up everything, index the demo corpus when missing or stale, serve on HOST:PORT.
run: index serve

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit("Dateline needs Python 3.10 or newer") if sys.version_info < (3, 10) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt requirements-cluster.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements.txt -r requirements-dev.txt
	@touch $@

corpus/data/newsarticles.jsonl: | $(VENV)/.installed
	$(PY) corpus/fetch_demo.py

index: $(VENV)/.installed corpus/data/newsarticles.jsonl
	$(PY) -m indexer build $(CORPUS) --index $(INDEX_DIR) --if-stale

serve: $(VENV)/.installed
	@echo "Serving Dateline on http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	DATELINE_INDEX_DIR=$(INDEX_DIR) $(VENV)/bin/gunicorn --workers $(WORKERS) --threads $(THREADS) \
		--bind $(HOST):$(PORT) --access-logfile - 'web:create_app()'

# Install what the tests need and run the whole default suite (what CI runs).
test: $(VENV)/.dev-installed browser-js corpus/data/newsarticles.jsonl
	$(PY) -m pytest

# What the browser tests need beyond requirements-dev.txt (Playwright): Debian's chromium
# (installing it needs root; without root the browser tests skip, with the reason) and
# axe-core from npm, pinned with its hash in tests/browser/package-lock.json and installed
# into the gitignored tests/browser/node_modules. .ci/run calls this before `make test`.
DATELINE_CHROMIUM ?= /usr/bin/chromium
AXE_STAMP := tests/browser/node_modules/.installed

browser-deps: browser-js
	@if [ -x "$(DATELINE_CHROMIUM)" ]; then \
		echo "browser-deps: chromium is at $(DATELINE_CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "browser-deps: chromium missing; as root run: apt-get install chromium (browser tests skip without it)"; \
	fi

browser-js: $(AXE_STAMP)

$(AXE_STAMP): tests/browser/package.json tests/browser/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "browser-js: npm not found; the accessibility (axe) browser test will skip"; \
	fi

# Lint and type-check (not part of `make test`).
check: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check search indexer web corpus tests bench quality loadtest
	$(VENV)/bin/mypy search indexer

# Re-pin requirements*.txt with hashes from the *.in files.
lock: $(VENV)/.installed
	$(PY) -m pip install --quiet pip-tools
	$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras -o requirements.txt requirements.in
	$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras -o requirements-cluster.txt requirements-cluster.in
	$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras -o requirements-dev.txt requirements-dev.in

# Optional extra for distributed ingest on Dask (`indexer build --workers N / --cluster ADDR`).
.PHONY: cluster-deps
cluster-deps: $(VENV)/.installed
	$(PY) -m pip install --quiet --require-hashes -r requirements.txt -r requirements-cluster.txt

clean-index:
	rm -rf $(INDEX_DIR)

# Benchmark Dateline against SQLite FTS5 (indexing, queries, web); see README "Benchmarks".
# Needs ../shared/data; `wrk` (apt-get install wrk) for the web part, skipped without it.
.PHONY: bench bench-smoke
BENCH_ARGS ?=
bench: $(VENV)/.installed
	$(PY) -m bench $(BENCH_ARGS)

bench-smoke: $(VENV)/.installed
	$(PY) -m bench --smoke $(BENCH_ARGS)

# Known-item relevance of Dateline vs SQLite FTS5 and Tantivy on ../shared/data
# (see quality/README.md). Installs the baselines (requirements-quality.txt) first.
.PHONY: relevance relevance-tune
RELEVANCE_ARGS ?=
$(VENV)/.quality-installed: $(VENV)/.installed requirements-quality.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements.txt -r requirements-quality.txt
	@touch $@

relevance: $(VENV)/.quality-installed
	$(PY) -m quality $(RELEVANCE_ARGS)

relevance-tune: $(VENV)/.quality-installed
	$(PY) -m quality --tune --query-seed 1 $(RELEVANCE_ARGS)

# Load test (not in the default suite): wrk against gunicorn, 30 s idle, then 30 s while
# `indexer update` and `rebuild` publish generations; needs wrk (apt-get install -y wrk).
.PHONY: loadtest
LOADTEST_ARGS ?=
loadtest: $(VENV)/.installed corpus/data/newsarticles.jsonl
	$(PY) -m loadtest $(LOADTEST_ARGS)
