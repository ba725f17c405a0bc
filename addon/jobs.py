"""The RQ entry points under the dotted names of the first layout.

Jobs already queued in Redis name their function by dotted path (``"addon.jobs.drain_integration"``
and so on, see :mod:`addon.engine.queue`); a worker running this version must still find them.
"""

from .engine.jobs import drain_integration, process_marketplace
from .engine.sweeper import sweep

__all__ = ["drain_integration", "process_marketplace", "sweep"]
