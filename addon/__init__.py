"""An iContact Integration Engine for Flask storefronts.

>>> engine = IntegrationEngine(app)  # or engine.init_app(app, db=db)
"""

from .errors import AddonError, IntegrationError, InvalidEvent
from .extension import IntegrationEngine

__all__ = ["AddonError", "IntegrationEngine", "IntegrationError", "InvalidEvent"]
__version__ = "0.1.0"
