"""Foundation used by every layer: errors, atomic writes and caches, data locations,
and the case-set file format (the authors' released-data schema)."""
