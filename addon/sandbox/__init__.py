"""A local simulator of the iContact REST API (v2.x, ``/icp``), faithful to recorded traffic.

It shares no code with the add-on's iContact client, which it exists to check, and imports
nothing from the rest of ``addon``.
"""

from .accounts import Account
from .app import create_sandbox_app
from .consent import person_confirms, person_unsubscribes, set_contact_status
from .server import serve_in_thread
from .state import SandboxState
from .storage import StateFileError
from .traffic import Faults

__all__ = [
    "Account",
    "Faults",
    "SandboxState",
    "StateFileError",
    "create_sandbox_app",
    "person_confirms",
    "person_unsubscribes",
    "serve_in_thread",
    "set_contact_status",
]
