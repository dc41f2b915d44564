"""Cross-cutting pieces every layer uses: settings, logging, errors, metrics, secrets at rest,
outage handling and the lifecycle vocabulary.

Imports nothing else from `shared` (see docs/architecture.md, "shared/ layout").
"""
