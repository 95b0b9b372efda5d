"""Words: the candidate vocabulary, its token index in a model, and word similarity."""
