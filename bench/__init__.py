"""Benchmarks of shopsync: `python -m bench [--quick] [names...]` (see bench/__main__.py)."""
