"""Measures on explainer outputs: normalisation and importance density, alignment of
annotations to token pieces, statistics, and statistics of attention word pairs."""
