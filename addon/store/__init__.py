"""Tables and their upkeep: the models, the add-on's own Alembic migrations (``db``,
``migrations/``), SQLite tuning for many writers (``sqlite``) and driver-ready bulk statements
(``prepared``)."""
