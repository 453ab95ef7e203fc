"""Benchmarks and the soak run (see benchmarks/README.md)."""
