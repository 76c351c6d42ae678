"""The team server: an HTTP API and a web dashboard over the governance store.

Both call the same governance core as the CLI; no rule is implemented twice. The server
keeps no state of its own between requests (sessions and throttling live in the store),
so several processes can share one PostgreSQL behind a load balancer.
"""

from custodes.server.app import create_app

__all__ = ["create_app"]
