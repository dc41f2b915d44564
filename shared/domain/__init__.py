"""The rules of Infrahaus, called by the API and the worker alike: accounts and sessions,
nodes, VMIDs, containers, templates, events, the audit trail and retention.

May import `shared.core`, `shared.db` and `shared.adapters`; never `services`.
"""
