"""Benchmarks: ``python -m bench`` (or ``./run.sh bench``) prints figures and ratios."""
