"""The store: the single source of truth. Every index is rebuildable from it.

``open_store(path)`` opens a SQLite file (the default); ``open_store('postgresql://...')`` a
PostgreSQL database (paperwire.store.postgres). Both have the same methods and ``.dialect``.
"""

from paperwire.store.sqlite import Store, open_store

__all__ = ["Store", "open_store"]
