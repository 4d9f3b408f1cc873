"""Publication of protected estimates in exchange formats (SDMX)."""
