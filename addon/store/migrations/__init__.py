"""The add-on's Alembic environment (``env.py``), its revisions, and the frozen shapes they
share (``columns.py``); run by :mod:`addon.store.db`."""
