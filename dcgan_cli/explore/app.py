"""The explorer's HTTP routes (Starlette): JSON in, JSON out, each a call on the Explorer session.

Quick answers (samples, a slider's move, an interpolation) run in Starlette's thread pool; slow
ones (reading attributes, nn-search, arithmetic, a projection) start a job and answer its id.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..core.configs import RADIUS
from ..core.errors import DcganError, UsageError
from .jobs import Jobs
from .session import MAX_UPLOAD, Explorer

ASSETS = Path(__file__).with_name("assets")


def _number(q, name: str, kind, default):
    raw = q.get(name)
    if raw in (None, ""):
        return default
    try:
        return kind(raw)
    except ValueError:
        raise UsageError(f"{name} must be a number, got {raw!r}") from None


def _ema(q) -> bool | None:
    return {"ema": True, "g": False}.get(str(q.get("generator", "")).lower())


def create_app(explorer: Explorer) -> Starlette:
    jobs = Jobs()

    async def answer(fn, *args, **kwargs) -> Response:
        try:
            return JSONResponse(await run_in_threadpool(fn, *args, **kwargs))
        except UsageError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        except DcganError as e:
            return JSONResponse({"error": str(e)}, status_code=422)

    async def body(request: Request) -> dict:
        try:
            data = await request.json()
        except ValueError:
            raise UsageError("the request's body is not JSON") from None
        if not isinstance(data, dict):
            raise UsageError("the request's body must be a JSON object")
        return data

    async def index(request: Request) -> Response:
        return FileResponse(ASSETS / "index.html")

    async def overview(request: Request) -> Response:
        return await answer(explorer.overview, request.query_params.get("ckpt"))

    async def samples(request: Request) -> Response:
        from ..core.seeds import parse_seeds

        q = request.query_params

        def call():
            seeds = parse_seeds(q.get("seeds") or "0-63")
            around = _number(q, "around", int, None)
            return explorer.samples(q.get("ckpt"), seeds, _number(q, "trunc", float, 1.0), _ema(q), around,
                                    _number(q, "radius", float, RADIUS))
        return await answer(call)

    async def interpolate(request: Request) -> Response:
        q = request.query_params

        def call():
            return explorer.interpolate(q.get("ckpt"), q.get("a", ""), q.get("b", ""), _number(q, "steps", int, 9),
                                        q.get("method") or None, _number(q, "trunc", float, 1.0), _ema(q),
                                        export=q.get("export") == "1")
        return await answer(call)

    async def start(request: Request) -> Response:
        """POST /api/jobs/{kind}: read, neighbours, arithmetic, project."""
        kind = request.path_params["kind"]
        try:
            p = await body(request)
            ckpt, ema = p.get("ckpt"), _ema(p)
            if kind == "read":
                seed, trunc = int(p.get("seed", 0)), float(p.get("trunc", 1.0))
                around = p.get("around")
                around = int(around) if around not in (None, "") else None
                radius = float(p.get("radius", RADIUS))
                key = jobs.submit(kind, lambda on_progress: explorer.read(ckpt, seed, trunc, ema, around, radius, on_progress))
            elif kind == "neighbours":
                seed = int(p.get("seed", 0))
                key = jobs.submit(kind, lambda on_progress: explorer.neighbours(ckpt, seed, ema, on_progress=on_progress))
            elif kind == "arithmetic":
                expr, method, anchor = str(p.get("expression", "")), p.get("method") or None, p.get("anchor") or None
                key = jobs.submit(kind, lambda on_progress: explorer.arithmetic(ckpt, expr, method, ema, anchor, on_progress))
            elif kind == "project":
                upload = str(p.get("upload", ""))
                key = jobs.submit(kind, lambda on_progress: explorer.project(ckpt, upload, ema, on_progress))
            else:
                return JSONResponse({"error": f"no job {kind!r}"}, status_code=404)
        except (TypeError, ValueError) as e:
            return JSONResponse({"error": f"a field of the request is not a number ({e})"}, status_code=400)
        except UsageError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        return JSONResponse({"job": key})

    async def job(request: Request) -> Response:
        found = jobs.get(request.path_params["key"])
        if found is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        return JSONResponse(found)

    async def upload(request: Request) -> Response:
        size = int(request.headers.get("content-length") or 0)
        if size > MAX_UPLOAD:
            return JSONResponse({"error": f"pictures up to {MAX_UPLOAD // 2**20} MB"}, status_code=413)
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_UPLOAD:
                return JSONResponse({"error": f"pictures up to {MAX_UPLOAD // 2**20} MB"}, status_code=413)
        return await answer(explorer.upload, request.headers.get("x-filename", "upload.png"), bytes(data))

    async def run_file(request: Request) -> Response:
        try:
            path = explorer.run_file(request.path_params["rel"], request.query_params.get("ckpt"))
        except UsageError as e:
            return JSONResponse({"error": str(e)}, status_code=404)
        return FileResponse(path)

    routes = [
        Route("/", index),
        Route("/api/run", overview),
        Route("/api/samples", samples),
        Route("/api/interpolate", interpolate),
        Route("/api/jobs/{kind}", start, methods=["POST"]),
        Route("/api/job/{key}", job),
        Route("/api/upload", upload, methods=["POST"]),
        Route("/files/{rel:path}", run_file),
        Mount("/assets", StaticFiles(directory=ASSETS), name="assets"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        jobs.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    return app
