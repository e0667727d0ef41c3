"""The HTTP API's routes (FastAPI) over a :class:`~rca.pipeline.Service`: questions, records, runs, reports, health.

A question (``POST /investigations``, ``/effects``, ``/recommendations``) is checked and recorded
``queued`` by the service, answered ``202`` with its id at once, and answered later by a worker
(beyond ``serve.workers`` answering and ``serve.queue`` waiting: ``429`` with ``Retry-After``,
never a hang); a what-if (``POST /what-if``) is answered at once, in a place of the same pool.
Nothing slow runs on the event loop: reads go to the thread pool, health checks touch nothing
slow. Every read is the service's (records scrubbed, report files only from inside the reports
folder); this module only shapes the answers. Errors are ``{"error": "one line"}``, mapped by
the one error tree: bad input ``400``, unavailable ``503`` with ``Retry-After``, our own bug
``500`` (its traceback logged once).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import Unavailable, WhydunnitError
from rca.api.bodies import (
    Accepted,
    EffectBody,
    ErrorBody,
    InvestigationBody,
    RecommendationsBody,
    WhatIfBody,
    graph_fits,
)
from rca.api.middleware import BearerAuth, BodyLimit, Gate, RequestContext, authorized, json_answer
from rca.pipeline import Service

log = logging.getLogger("rca.api")


def _validation_line(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}")
    more = f" (+{len(exc.errors()) - 3} more)" if len(exc.errors()) > 3 else ""
    return "; ".join(parts) + more


def _iso(t) -> str | None:
    return t.isoformat() + "Z" if t is not None else None


def _question_view(rec) -> dict[str, Any]:
    question = {k: v for k, v in rec.question.items() if k != "graph_def"}
    return {"id": rec.id, "kind": rec.kind, "status": rec.status, "scope": rec.scope, "target": rec.target,
            "question": question, "created_at": _iso(rec.created_at), "finished_at": _iso(rec.finished_at),
            "error": rec.error, "result": rec.result,
            "report_url": f"/investigations/{rec.id}/report" if rec.status == "done" else None}


def create_app(service: Service, *, environ: Mapping[str, str] | None = None) -> FastAPI:
    """The FastAPI app over ``service`` (started and closed by the app's lifespan); ``environ`` holds the
    API tokens (default: the process's environment)."""
    gate = Gate(service, environ)
    settings = service.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(service.start)
        try:
            yield
        finally:
            await run_in_threadpool(service.close)

    errors = {400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 413: {"model": ErrorBody}}
    # No /docs or /redoc: those pages load their scripts from a CDN, which the service's policy forbids.
    app = FastAPI(title="whydunnit", version=_version(), lifespan=lifespan, responses=errors,
                  docs_url=None, redoc_url=None,
                  description="Why did our bug rate / build time / lead time get worse? Causal root-cause analysis "
                              "of software-engineering metrics, on demand and on a schedule. Every route but "
                              "/healthz and /readyz wants `Authorization: Bearer <token>`.")
    retry_after = {"Retry-After": str(settings.serve.retry_after_s)}

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        service.metrics.rejected.labels(reason="bad_request").inc()
        return json_answer(400, {"error": service.scrub(_validation_line(exc))})

    @app.exception_handler(WhydunnitError)
    async def _ours(request: Request, exc: WhydunnitError) -> Response:
        # The one tree's mapping: bad input 400, unavailable 503 (with when to ask again), internal 500.
        line = service.scrub(str(exc) or type(exc).__name__)
        if isinstance(exc, Unavailable):
            service.metrics.rejected.labels(reason="unavailable").inc()
            return json_answer(503, {"error": line}, retry_after)
        if exc.http_status >= 500:
            log.error("internal error: %s: %s", type(exc).__name__, exc, exc_info=exc)
            return json_answer(exc.http_status, {"error": line})
        service.metrics.rejected.labels(reason="bad_request").inc()
        return json_answer(exc.http_status, {"error": line})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return json_answer(exc.status_code, {"error": service.scrub(str(exc.detail))}, getattr(exc, "headers", None))

    def _refuse_if_full() -> Response | None:
        if service.draining:
            service.metrics.rejected.labels(reason="draining").inc()
            return json_answer(503, {"error": "the service is stopping and takes no new work; ask again shortly"},
                               retry_after)
        if not service.reserve():
            service.metrics.rejected.labels(reason="queue_full").inc()
            return json_answer(429, {"error": f"all {settings.serve.workers} worker(s) are busy and "
                                              f"{settings.serve.queue} question(s) wait already; ask again later"},
                               retry_after)
        return None

    async def _queue(kind: str, fields: dict[str, Any]) -> Response:
        graph_fits(fields.get("graph"), settings.serve.max_graph_bytes)
        refused = _refuse_if_full()
        if refused is not None:
            return refused
        rec = await run_in_threadpool(service.ask, kind, fields)
        log.info("%s %s queued", kind, rec.id)
        url = f"/investigations/{rec.id}"
        body = Accepted(id=rec.id, kind=kind, status="queued", url=url, report_url=f"{url}/report")
        return json_answer(202, body.model_dump(), {"Location": url})

    @app.get("/healthz", tags=["health"], summary="Alive (no auth; HEAD too)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"],
             summary="Ready: the store answers, the scheduler runs, not stopping (no auth, HEAD too; details with a token)")
    async def readyz(request: Request) -> Response:
        ok, state = await run_in_threadpool(service.ready)
        body: dict[str, Any] = {"status": "ready" if ok else "not ready"}
        # The details name the store (its host, port and user): only for a caller with a token.
        if not settings.serve.auth or authorized(gate, request.headers.get("authorization", "").encode("latin-1")
                                                 or None):
            body.update(state)
        return json_answer(200 if ok else 503, body)

    # HEAD as well (probes and load balancers use it), as routes of their own so the schema keeps one operation each.
    app.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)
    app.add_api_route("/readyz", readyz, methods=["HEAD"], include_in_schema=False)

    @app.get("/metrics", tags=["health"], summary="The service's own metrics (Prometheus text format)",
             response_class=Response)
    async def metrics() -> Response:
        data, content_type = service.metrics.exposition()
        return Response(data, media_type=content_type)

    @app.post("/investigations", status_code=202, response_model=Accepted, tags=["questions"],
              summary="Ask why a metric changed; answered later (poll the url)",
              responses={429: {"model": ErrorBody}, 503: {"model": ErrorBody}})
    async def post_investigation(body: InvestigationBody) -> Response:
        return await _queue("investigation", body.model_dump(exclude_none=True))

    @app.post("/effects", status_code=202, response_model=Accepted, tags=["questions"],
              summary="Ask what a treatment does to an outcome (pooled, or by scope)",
              responses={429: {"model": ErrorBody}, 503: {"model": ErrorBody}})
    async def post_effect(body: EffectBody) -> Response:
        fields = body.model_dump(exclude_none=True)
        kind = "heterogeneity" if fields.pop("by_scope") else "effect"
        if kind == "heterogeneity":
            for key in ("simulations", "bootstrap", "refute", "dml"):
                fields.pop(key, None)
        else:
            fields.pop("features", None)
        return await _queue(kind, fields)

    @app.post("/recommendations", status_code=202, response_model=Accepted, tags=["questions"],
              summary="Ask which lever to move to improve a target",
              responses={429: {"model": ErrorBody}, 503: {"model": ErrorBody}})
    async def post_recommendations(body: RecommendationsBody) -> Response:
        return await _queue("recommendations", body.model_dump(exclude_none=True))

    @app.post("/what-if", tags=["questions"],
              summary="What a node would be had others been held at values (answered now, from the store)",
              responses={400: {"model": ErrorBody}, 429: {"model": ErrorBody}, 503: {"model": ErrorBody}})
    async def post_what_if(body: WhatIfBody) -> Response:
        refused = _refuse_if_full()
        if refused is not None:
            return refused
        result = await run_in_threadpool(service.what_if, body.model_dump(exclude_none=True))
        return json_answer(200, result.to_dict())

    def _record(id_: str):
        rec = service.question(id_)
        if rec is None:
            raise StarletteHTTPException(404, f"no investigation {id_[:80]!r}")
        return rec

    @app.get("/investigations", tags=["questions"], summary="Recent questions, newest first")
    def list_investigations(limit: int = Query(50, ge=1, le=500), status: str | None = None,
                            kind: str | None = None) -> list[dict[str, Any]]:
        return [_question_view(r) for r in service.questions(limit=limit, status=status, kind=kind)]

    @app.get("/investigations/{id_}", tags=["questions"],
             summary="A question's status and, once done, its JSON result (its HTML report for Accept: text/html)",
             responses={404: {"model": ErrorBody}})
    def get_investigation(id_: str, request: Request) -> Any:
        rec = _record(id_)
        accept = request.headers.get("accept", "")
        if "text/html" in accept and "application/json" not in accept:  # a browser
            return _html_report(rec)
        return _question_view(rec)

    @app.get("/investigations/{id_}/report", tags=["questions"], response_class=HTMLResponse,
             summary="A done question's HTML report", responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}})
    def get_report(id_: str) -> Response:
        return _html_report(_record(id_))

    def _html_report(rec) -> Response:
        if rec.status != "done":
            raise StarletteHTTPException(409, f"investigation {rec.id} is {rec.status}, not done"
                                              + (f": {rec.error}" if rec.error else ""))
        html = service.question_report(rec)
        if html is None:
            raise StarletteHTTPException(404, f"the report of investigation {rec.id} is gone from the reports folder")
        return HTMLResponse(html)

    @app.get("/runs", tags=["jobs"], summary="Scheduled runs, newest first")
    def list_runs(limit: int = Query(50, ge=1, le=500), job: str | None = None,
                  status: Literal["running", "done", "failed", "interrupted"] | None = None) -> list[dict[str, Any]]:
        return [r.to_dict() for r in service.runs(limit=limit, job=job, status=status)]

    @app.get("/runs/{id_}", tags=["jobs"], summary="One scheduled run", responses={404: {"model": ErrorBody}})
    def get_run(id_: str) -> dict[str, Any]:
        run = service.run(id_)
        if run is None:
            raise StarletteHTTPException(404, f"no run {id_[:80]!r}")
        return run.to_dict()

    @app.get("/jobs", tags=["jobs"], summary="The configured jobs and their next runs")
    def list_jobs() -> list[dict[str, Any]]:
        nexts = service.alongside.next_runs() if service.alongside else {}
        return [{"name": j.name, "cron": j.cron, "timezone": j.timezone, "collect": j.collect, "report": j.report,
                 "refit": j.refit, "next_run": nexts.get(j.name), "next_refit": nexts.get(f"{j.name}:refit")}
                for j in settings.jobs]

    @app.get("/reports", tags=["reports"], summary="Report files, newest first")
    def list_reports(limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        return [{"name": f.name, "bytes": f.bytes, "url": f"/reports/{f.name}"} for f in service.reports(limit)]

    @app.get("/reports/{name:path}", tags=["reports"], summary="A report file under reports.out_dir",
             responses={404: {"model": ErrorBody}})
    def get_report_file(name: str) -> Response:
        found = service.report_file(name)
        if found is None:
            raise StarletteHTTPException(404, f"no report {name[:80]!r}")
        path, media_type = found
        return FileResponse(path, media_type=media_type, content_disposition_type="inline")

    app.add_middleware(BodyLimit, gate=gate)
    app.add_middleware(BearerAuth, gate=gate)
    app.add_middleware(RequestContext, gate=gate)
    return app


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("whydunnit")
    except Exception:
        return "0"
