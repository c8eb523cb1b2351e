"""The web layer: pages, the JSON APIs and feeds over the library."""
