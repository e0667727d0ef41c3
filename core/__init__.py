"""The ground floor: what every layer of whydunnit shares and nothing of ours sits under.

:mod:`core.errors` is the one error tree every face maps the same way (bad input, unavailable,
internal); :mod:`core.secrets` is the one rule for hiding a secret in anything printed, logged,
stored or served; :mod:`core.observations` is the observation table every collector returns and
the store keeps, with the one bucket rule; :mod:`core.times` the one reader of a written time;
:mod:`core.retry` the one retry loop; :mod:`core.bounded_http` the one way a request to a server
is bounded in time and size. Nothing here imports anything of ours above it, and what is heavy
(pandas, httpcore) loads only where it is used, so any layer may import the ground floor.
"""
