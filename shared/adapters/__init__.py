"""How we talk to the outside: a Proxmox node (HTTPS API, SSH, `pct`) and Redis (client, job
queue, locks, worker heartbeats, the read cache's invalidations). PostgreSQL is `shared.db`.

Adapters know no domain rule: they import `shared.core` and each other, never `shared.domain`.
"""
