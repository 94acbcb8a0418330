"""Turn raw files (HTML pages, text dumps, JSON records) into clean `Article` values.

The extraction core (`extract`, `html`, `textdump`, `records`, `metadata`, `dates`) is pure:
it takes bytes and returns values, so it can be tested without files, network or index.
"""
