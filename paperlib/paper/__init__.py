"""The paper's reproduction: the authors' frozen released data, the published numbers,
and the tables of Findings 1-3. May import the toolbox, never :mod:`paperlib.book`."""
