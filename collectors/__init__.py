"""Collectors turn a source (Git, Prometheus, coverage reports, files) into the tidy observation table.

They know nothing of the store or the engine: each returns a frame shaped by
:mod:`collectors.observations` and lets the pipeline decide where it goes.
"""
