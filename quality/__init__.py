"""Search quality: known-item relevance of Dateline against SQLite FTS5 and Tantivy.

`python -m quality` (or `make relevance`) samples articles from ../shared/data, indexes
them through the real indexer, draws the queries a person would type to find each one
again, and reports MRR@10 and success@1/@10 per engine, query type and language.
See quality/README.md.
"""
