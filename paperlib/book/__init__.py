"""The book's layer: figures, widgets and chapter helpers. May import :mod:`paperlib.paper`
and the toolbox; nothing in the library imports it."""
