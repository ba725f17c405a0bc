"""An iContact Integration Engine for Flask storefronts.

>>> engine = IntegrationEngine(app)  # or engine.init_app(app, db=db)
"""

from .errors import AddonError, IntegrationError, InvalidEvent, TransactionError
from .extension import IntegrationEngine

__all__ = [
    "AddonError",
    "IntegrationEngine",
    "IntegrationError",
    "InvalidEvent",
    "TransactionError",
]
__version__ = "0.1.0"
