"""The read API: aiohttp, read-only, served from the projection and the event log.

``create_app(settings)`` is the only entry point; see ``app``.
"""

from connmgr.api.app import create_app

__all__ = ["create_app"]
