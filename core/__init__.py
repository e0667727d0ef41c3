"""The ground floor: what every layer of whydunnit shares and nothing of ours sits under.

:mod:`core.errors` is the one error tree every face maps the same way (bad input, unavailable,
internal); :mod:`core.secrets` is the one rule for hiding a secret in anything printed, logged,
stored or served. Both import only the standard library, so any layer (collectors, graphs,
the engine, reports) may use them without pulling anything heavy into start-up.
"""
