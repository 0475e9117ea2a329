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

from ..core.defaults import RADIUS
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


async def _answer(fn, *args, **kwargs) -> Response:
    try:
        return JSONResponse(await run_in_threadpool(fn, *args, **kwargs))
    except UsageError as e:
        return JSONResponse({"error": str(e)}, status_code=400)
    except DcganError as e:
        return JSONResponse({"error": str(e)}, status_code=422)


async def _body(request: Request) -> dict:
    try:
        data = await request.json()
    except ValueError:
        raise UsageError("the request's body is not JSON") from None
    if not isinstance(data, dict):
        raise UsageError("the request's body must be a JSON object")
    return data


def _seed(p: dict, name: str = "seed", default: int | None = 0) -> int | None:
    """A seed field of a JSON body: a whole number 0 to 2^63-1 (not 1.9, not -1, not true)."""
    from ..core.seeds import MAX_SEED

    value = p.get(name, default)
    if value is None or value == "" and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise UsageError(f"{name} must be a seed, a whole number from 0 to 2^63-1; got {str(value)[:40]}")
    return value


def _job(explorer: Explorer, kind: str, p: dict):
    """The work of POST /api/jobs/KIND as fn(on_progress), its fields read now (a bad one fails the request)."""
    ckpt, ema = p.get("ckpt"), _ema(p)
    if kind == "read":
        seed, trunc, around = _seed(p), float(p.get("trunc", 1.0)), _seed(p, "around", None)
        radius = float(p.get("radius", RADIUS))
        return lambda on_progress: explorer.read(ckpt, seed, trunc, ema, around, radius, on_progress)
    if kind == "neighbours":
        seed = _seed(p)
        return lambda on_progress: explorer.neighbours(ckpt, seed, ema, on_progress=on_progress)
    if kind == "arithmetic":
        expr, method, anchor = str(p.get("expression", "")), p.get("method") or None, p.get("anchor") or None
        return lambda on_progress: explorer.arithmetic(ckpt, expr, method, ema, anchor, on_progress)
    if kind == "project":
        upload = str(p.get("upload", ""))
        return lambda on_progress: explorer.project(ckpt, upload, ema, on_progress)
    return None


class _Routes:
    """Each route of the page: read the request, call the Explorer, answer JSON."""

    def __init__(self, explorer: Explorer):
        self.explorer, self.jobs = explorer, Jobs()

    async def index(self, request: Request) -> Response:
        return FileResponse(ASSETS / "index.html")

    async def overview(self, request: Request) -> Response:
        return await _answer(self.explorer.overview, request.query_params.get("ckpt"))

    async def samples(self, request: Request) -> Response:
        from ..core.seeds import parse_seeds

        q = request.query_params

        def call():
            seeds = parse_seeds(q.get("seeds") or "0-63")
            return self.explorer.samples(q.get("ckpt"), seeds, _number(q, "trunc", float, 1.0), _ema(q),
                                         _number(q, "around", int, None), _number(q, "radius", float, RADIUS))
        return await _answer(call)

    async def interpolate(self, request: Request) -> Response:
        q = request.query_params

        def call():
            return self.explorer.interpolate(q.get("ckpt"), q.get("a", ""), q.get("b", ""), _number(q, "steps", int, 9),
                                             q.get("method") or None, _number(q, "trunc", float, 1.0), _ema(q),
                                             export=q.get("export") == "1")
        return await _answer(call)

    async def start(self, request: Request) -> Response:
        """POST /api/jobs/{kind}: read, neighbours, arithmetic, project."""
        kind = request.path_params["kind"]
        try:
            work = _job(self.explorer, kind, await _body(request))
        except (TypeError, ValueError) as e:
            return JSONResponse({"error": f"a field of the request is not a number ({e})"}, status_code=400)
        except UsageError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        if work is None:
            return JSONResponse({"error": f"no job {kind!r}"}, status_code=404)
        return JSONResponse({"job": self.jobs.submit(kind, work)})

    async def job(self, request: Request) -> Response:
        found = self.jobs.get(request.path_params["key"])
        if found is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        return JSONResponse(found)

    async def upload(self, request: Request) -> Response:
        too_big = JSONResponse({"error": f"pictures up to {MAX_UPLOAD // 2**20} MB"}, status_code=413)
        if int(request.headers.get("content-length") or 0) > MAX_UPLOAD:
            return too_big
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_UPLOAD:
                return too_big
        return await _answer(self.explorer.upload, request.headers.get("x-filename", "upload.png"), bytes(data))

    async def run_file(self, request: Request) -> Response:
        try:
            path = self.explorer.run_file(request.path_params["rel"], request.query_params.get("ckpt"))
        except UsageError as e:
            return JSONResponse({"error": str(e)}, status_code=404)
        return FileResponse(path)


def create_app(explorer: Explorer) -> Starlette:
    r = _Routes(explorer)
    routes = [
        Route("/", r.index),
        Route("/api/run", r.overview),
        Route("/api/samples", r.samples),
        Route("/api/interpolate", r.interpolate),
        Route("/api/jobs/{kind}", r.start, methods=["POST"]),
        Route("/api/job/{key}", r.job),
        Route("/api/upload", r.upload, methods=["POST"]),
        Route("/files/{rel:path}", r.run_file),
        Mount("/assets", StaticFiles(directory=ASSETS), name="assets"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        r.jobs.close()

    return Starlette(routes=routes, lifespan=lifespan)
