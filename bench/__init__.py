"""Benchmarks against the msgraph-sdk baseline: ``python -m bench.run`` (``make bench``)."""
