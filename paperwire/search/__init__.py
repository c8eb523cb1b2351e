"""Search: the index stage (building, syncing) and the query stage over it."""
