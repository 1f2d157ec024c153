"""Shared test support: service availability, real-service databases, waiting.

Import from here (``from support import wait_for, require_services``): the
``tests`` folder itself is on ``sys.path`` (it has no ``__init__.py``).
"""

from support.services import require_services, service_unavailable
from support.waiting import wait_for

__all__ = ["require_services", "service_unavailable", "wait_for"]
