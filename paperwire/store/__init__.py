"""The store: the single source of truth. Every index is rebuildable from it."""

from paperwire.store.sqlite import Store, open_store

__all__ = ["Store", "open_store"]
