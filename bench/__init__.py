"""Benchmark harness: Dateline's indexer, search call and web server beside SQLite FTS5.

Run it with `python -m bench` (or `make bench`); see README.md, section "Benchmarks".
It only measures: it imports `indexer`, `search` and `web` as they are and never changes
them, except that a measuring child process may wrap functions with timers or stubs.
"""

RESULT_SCHEMA = 1
