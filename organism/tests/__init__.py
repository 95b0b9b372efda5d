"""Tests of the organism pipeline (collected by the root pytest run: ``testpaths``)."""
