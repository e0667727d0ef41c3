"""The HTTP API of ``rca serve`` (FastAPI): a face over :mod:`rca.pipeline`, beside the CLI and the scheduler.

Questions (``POST /investigations``, ``/effects``, ``/recommendations``) are queued and answered
later by the service's workers; ``GET /investigations/{id}`` gives the status and JSON result,
``.../report`` the HTML; ``GET /runs`` the scheduled runs; ``GET /reports/{name}`` the files under
``reports.out_dir``; ``GET /healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``. Its rooms:
:mod:`~rca.api.bodies` (what a client sends and gets), :mod:`~rca.api.middleware` (request ids,
token auth, body limits), :mod:`~rca.api.connections` (what clients may hold open),
:mod:`~rca.api.routes` (the routes over a :class:`~rca.pipeline.Service`) and
:mod:`~rca.api.running` (uvicorn, SIGTERM).
"""

from rca.api.routes import create_app
from rca.api.running import dump_openapi, serve

__all__ = ["create_app", "dump_openapi", "serve"]
