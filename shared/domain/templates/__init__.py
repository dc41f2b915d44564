"""Templates (what a container becomes) and package buckets: rules, storage, discovery."""
