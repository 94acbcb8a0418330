# Dateline: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
INDEX_DIR ?= var/index
HOST   ?= 127.0.0.1
PORT   ?= 5000
WORKERS ?= 2
CORPUS := corpus/articles corpus/data

.PHONY: run index serve test check lock clean-index

# Set up everything, index the demo corpus when missing or stale, serve on HOST:PORT.
run: index serve

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit("Dateline needs Python 3.10 or newer") if sys.version_info < (3, 10) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements.txt -r requirements-dev.txt
	@touch $@

corpus/data/newsarticles.jsonl: | $(VENV)/.installed
	$(PY) corpus/fetch_demo.py

index: $(VENV)/.installed corpus/data/newsarticles.jsonl
	$(PY) -m indexer build $(CORPUS) --index $(INDEX_DIR) --if-stale

serve: $(VENV)/.installed
	@echo "Serving Dateline on http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	DATELINE_INDEX_DIR=$(INDEX_DIR) $(VENV)/bin/gunicorn --workers $(WORKERS) --threads 4 \
		--bind $(HOST):$(PORT) --access-logfile - 'web:create_app()'

# Install what the tests need and run the whole default suite (what CI runs).
test: $(VENV)/.dev-installed
	$(PY) -m pytest

# Lint and type-check (not part of `make test`).
check: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check search indexer web corpus tests
	$(VENV)/bin/mypy search indexer

# Re-pin requirements*.txt with hashes from the *.in files.
lock: $(VENV)/.installed
	$(PY) -m pip install --quiet pip-tools
	$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras -o requirements.txt requirements.in
	$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras -o requirements-dev.txt requirements-dev.in

clean-index:
	rm -rf $(INDEX_DIR)
