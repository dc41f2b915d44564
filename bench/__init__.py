"""Benchmarks: each figure is a ratio against a bare Litestar route measured in the same run."""
