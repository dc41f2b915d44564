"""Development and test helpers (embedded PostgreSQL and Redis).

Only `services.run`, the tests and the benchmarks import these; the API and the worker never do.
"""
