"""The add-on's Alembic environment (``env.py``) and revisions; run by :mod:`addon.store.db`."""
