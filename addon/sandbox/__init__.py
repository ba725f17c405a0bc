"""A local simulator of the iContact REST API (v2.x, ``/icp``), faithful to recorded traffic.

It shares no code with the add-on's iContact client, which it exists to check, and imports
nothing from the rest of ``addon``.
"""

from .app import create_sandbox_app
from .server import serve_in_thread
from .state import Account, SandboxState
from .traffic import Faults

__all__ = ["Account", "Faults", "SandboxState", "create_sandbox_app", "serve_in_thread"]
