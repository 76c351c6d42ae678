"""Generators of labelled test corpora."""
