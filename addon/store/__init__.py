"""Tables and their upkeep: the models and the engine's bookkeeping beside them, the add-on's
own Alembic migrations (``db``, ``migrations/``), SQLite tuning for many writers (``sqlite``),
driver-ready bulk statements (``prepared``) and one upsert (``upsert``)."""

# Every table on the one metadata, whichever module a caller imports first.
from . import bookkeeping, models  # noqa: E402,F401
