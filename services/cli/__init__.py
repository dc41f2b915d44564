"""`infrahaus`, the terminal client: login, nodes, templates, VMIDs, containers with live builds.

It talks to the REST API over HTTP only (httpx, httpx-sse for the build stream, rich for output)
and imports nothing from `shared`, so it runs wherever the package is installed.
"""
