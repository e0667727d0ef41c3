"""The causal engine: fit a structural causal model on a wide frame, detect, attribute, explain.

It knows nothing of Git, Prometheus, the store or reports: it takes a frame (one column per
graph node) and a :class:`graphs.CausalGraph` and returns
:class:`rca.engine.result.InvestigationResult` objects. :mod:`rca.engine.investigate` is
the one entry the faces call.
"""
