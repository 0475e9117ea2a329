"""The explorer's HTTP routes (Starlette): JSON in, JSON out, each a call on the Explorer session.

Quick answers (samples, a slider's move, an interpolation) run in Starlette's thread pool; slow
ones (reading attributes, nn-search, arithmetic, a projection) start a job and answer its id.

The trust boundary (docs/reliability.md): `Guard` answers only requests whose Host is this server
(so a DNS-rebound name reaches nothing), and every API and run-file request must carry this
launch's token, which only the URL `dcgan explore` printed holds. What changes state (a job, an
upload, an export into the run folder) is a POST with the token in a header and, for JSON, the
application/json type: a page on another origin can neither read the token nor send that header
without a CORS preflight this server never grants.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import secrets
from pathlib import Path
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..core.defaults import EXPLORE_HOST, EXPLORE_PORT, RADIUS, WALK_STEPS
from ..core.errors import DcganError, UsageError
from .jobs import Jobs
from .session import MAX_UPLOAD, Explorer, TooLarge

ASSETS = Path(__file__).with_name("assets")


def _number(q, name: str, kind, default):
    raw = q.get(name)
    if raw in (None, ""):
        return default
    if kind is int:
        return _whole({name: raw}, name, default)
    return _real({name: raw}, name, default)


def _ema(q) -> bool | None:
    return {"ema": True, "g": False}.get(str(q.get("generator", "")).lower())


async def _answer(explorer: Explorer, fn, *args, **kwargs) -> Response:
    """fn's answer as JSON, or its one-line error; either with no absolute path of this machine in it."""
    try:
        return JSONResponse(explorer.public(await run_in_threadpool(fn, *args, **kwargs)))
    except TooLarge as e:
        return JSONResponse({"error": explorer.public(str(e))}, status_code=413)
    except UsageError as e:
        return JSONResponse({"error": explorer.public(str(e))}, status_code=400)
    except DcganError as e:
        return JSONResponse({"error": explorer.public(str(e))}, status_code=422)


async def _body(request: Request) -> dict:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise UsageError("send the request's body as application/json")
    raw = await request.body()
    if len(raw) > 64 * 1024:
        raise UsageError("the request's body is over 64 KB; a job's fields are a few numbers and words")
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise UsageError("the request's body is not JSON") from None
    if not isinstance(data, dict):
        raise UsageError("the request's body must be a JSON object")
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number here")


_ASCII_WHOLE, _ASCII_NUMBER = re.compile(r"[0-9]{1,19}"), re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")


def _whole(p: dict, name: str, default: int) -> int:
    """A whole-number field of a JSON body: 9, 9.0 or "9" (a form's value); never 9.7, true or "٩"."""
    value = p.get(name, default)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        value = int(value)
    elif isinstance(value, str) and _ASCII_WHOLE.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{name} must be a whole number, got {str(value)[:40]!r}")
    return value


def _real(p: dict, name: str, default: float) -> float:
    """A number field of a JSON body: 0.7 or "0.7" (a form's value); never true, NaN or a word."""
    value = p.get(name, default)
    if isinstance(value, str) and _ASCII_NUMBER.fullmatch(value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"{name} must be a number, got {str(value)[:40]!r}")
    return float(value)


def _text(p: dict, name: str, default: str | None = "") -> str | None:
    """A text field of a JSON body; left out or empty, the default."""
    value = p.get(name)
    if value in (None, ""):
        return default
    if not isinstance(value, str):
        raise UsageError(f"{name} must be text, got {str(value)[:40]!r}")
    return value


def _seed(p: dict, name: str = "seed", default: int | None = 0) -> int | None:
    """A seed field of a JSON body: a whole number 0 to 2^63-1 (not 1.9, not -1, not true)."""
    from ..core.seeds import MAX_SEED

    value = p.get(name, default)
    if default is None and value in (None, ""):  # an optional seed (around) left out
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise UsageError(f"{name} must be a seed, a whole number from 0 to 2^63-1; got {str(value)[:40]!r}")
    return value


def _job(explorer: Explorer, kind: str, p: dict):
    """The work of POST /api/jobs/KIND as fn(on_progress), its fields read now (a bad one fails the request)."""
    ckpt, ema = _text(p, "ckpt", None), _ema(p)
    if kind == "read":
        seed, trunc, around = _seed(p), _real(p, "trunc", 1.0), _seed(p, "around", None)
        radius = _real(p, "radius", RADIUS)
        return lambda on_progress: explorer.read(ckpt, seed, trunc, ema, around, radius, on_progress)
    if kind == "steer":
        ref, concept, trunc = _text(p, "ref"), _text(p, "concept"), _real(p, "trunc", 1.0)
        return lambda on_progress: explorer.steer(ckpt, ref, concept, trunc, ema, on_progress)
    if kind == "label":
        phrase, n, trunc = _text(p, "phrase"), _whole(p, "n", 32), _real(p, "trunc", 1.0)
        return lambda on_progress: explorer.label_seeds(ckpt, phrase, n, trunc, ema, on_progress)
    if kind == "neighbours":
        seed, trunc = _seed(p), _real(p, "trunc", 1.0)
        return lambda on_progress: explorer.neighbours(ckpt, seed, ema, on_progress=on_progress, trunc=trunc)
    if kind == "arithmetic":
        expr, method, anchor = _text(p, "expression"), _text(p, "method", None), _text(p, "anchor", None)
        return lambda on_progress: explorer.arithmetic(ckpt, expr, method, ema, anchor, on_progress)
    if kind == "project":
        upload = _text(p, "upload")
        return lambda on_progress: explorer.project(ckpt, upload, ema, on_progress)
    return None


class _Routes:
    """Each route of the page: read the request, call the Explorer, answer JSON."""

    def __init__(self, explorer: Explorer):
        self.explorer, self.jobs = explorer, Jobs()

    async def index(self, request: Request) -> Response:
        return FileResponse(ASSETS / "index.html")

    async def overview(self, request: Request) -> Response:
        return await _answer(self.explorer, self.explorer.overview, request.query_params.get("ckpt"))

    async def samples(self, request: Request) -> Response:
        from ..core.seeds import parse_seeds

        q = request.query_params

        def call():
            seeds = parse_seeds(q.get("seeds") or "0-63")
            return self.explorer.samples(q.get("ckpt"), seeds, _number(q, "trunc", float, 1.0), _ema(q),
                                         _number(q, "around", int, None), _number(q, "radius", float, RADIUS))
        return await _answer(self.explorer, call)

    async def interpolate(self, request: Request) -> Response:
        q = request.query_params
        if "export" in q:  # a GET never writes: an <img src> on any page could otherwise fill the run folder
            return JSONResponse({"error": "export with POST /api/export (the page's Export files button)"}, status_code=405)

        def call():
            return self.explorer.interpolate(q.get("ckpt"), q.get("a", ""), q.get("b", ""), _number(q, "steps", int, WALK_STEPS),
                                             q.get("method") or None, _number(q, "trunc", float, 1.0), _ema(q))
        return await _answer(self.explorer, call)

    async def export(self, request: Request) -> Response:
        """POST /api/export: the walk's files into RUN/interpolate/, as `dcgan interpolate` writes them."""
        try:
            p = await _body(request)
            args = (_text(p, "ckpt", None), _text(p, "a"), _text(p, "b"), _whole(p, "steps", WALK_STEPS),
                    _text(p, "method", None), _real(p, "trunc", 1.0), _ema(p))
        except (TypeError, ValueError, OverflowError) as e:
            return JSONResponse({"error": f"a field of the request is not a number ({e})"}, status_code=400)
        except UsageError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        return await _answer(self.explorer, self.explorer.interpolate, *args, export=True)

    async def start(self, request: Request) -> Response:
        """POST /api/jobs/{kind}: read, steer, label, neighbours, arithmetic, project."""
        kind = request.path_params["kind"]
        try:
            work = _job(self.explorer, kind, await _body(request))
        except (TypeError, ValueError, OverflowError) as e:
            return JSONResponse({"error": f"a field of the request is not a number ({e})"}, status_code=400)
        except UsageError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        if work is None:
            return JSONResponse({"error": f"no job {kind!r}"}, status_code=404)
        return JSONResponse({"job": self.jobs.submit(kind, work, public=self.explorer.public)})

    async def job(self, request: Request) -> Response:
        found = self.jobs.get(request.path_params["key"])
        if found is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        return JSONResponse(found)

    async def upload(self, request: Request) -> Response:
        too_big = JSONResponse({"error": f"pictures up to {MAX_UPLOAD // 2**20} MB"}, status_code=413)
        if not request.headers.get("x-filename"):
            return JSONResponse({"error": "name the picture in the X-Filename header"}, status_code=400)
        if int(request.headers.get("content-length") or 0) > MAX_UPLOAD:
            return too_big
        data = bytearray()
        try:
            async for chunk in request.stream():
                data += chunk
                if len(data) > MAX_UPLOAD:
                    return too_big
        except ClientDisconnect:  # the page went away mid-upload: nobody to answer, nothing kept
            return Response(status_code=400)
        return await _answer(self.explorer, self.explorer.upload, request.headers.get("x-filename", "upload.png"), bytes(data))

    async def run_file(self, request: Request) -> Response:
        try:
            path = self.explorer.run_file(request.path_params["rel"], request.query_params.get("ckpt"))
        except UsageError as e:
            return JSONResponse({"error": str(e)}, status_code=404)
        return FileResponse(path)


class Guard:
    """ASGI middleware: the Host allow-list, this launch's token on every API and file request, and for
    every request that changes state a POST with the token in a header from this server's own origin."""

    def __init__(self, app, *, token: str, host: str, port: int):
        self.app, self.token, self.port = app, token, port
        wildcard = host in ("0.0.0.0", "::", "")
        self.hosts = None if wildcard else {host.strip("[]").lower(), "localhost", "127.0.0.1", "::1"}

    def _host_ok(self, value: str) -> bool:
        name, _, port = value.rpartition(":") if not value.endswith("]") else (value, "", "")
        if not name:
            name, port = value, ""
        if port and not re.fullmatch(r"[0-9]{1,5}", port):  # ASCII digits only: "²" passes isdigit() and fails int()
            raise ValueError(f"the Host header's port {port!r} is not a number")
        if port and int(port) != self.port:
            return False
        return self.hosts is None or name.strip("[]").lower() in self.hosts

    def _origin_ok(self, origin: str) -> bool:
        try:
            return self._host_ok(origin.split("://", 1)[-1])
        except ValueError:
            return False

    def refusal(self, scope) -> tuple[int, str] | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            if not self._host_ok(headers.get("host", "")):
                return 421, "this server answers only to its own address (127.0.0.1, localhost or the --host it was given)"
        except ValueError as e:
            return 400, str(e)
        path = scope.get("path", "")
        if not (path.startswith("/api/") or path.startswith("/files/")):
            return None  # the page and its assets hold no data of the run
        given = headers.get("x-dcgan-token") or (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
                                                 or [""])[0]
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return 403, "this page's token is missing or wrong: open the URL `dcgan explore` printed"
        if scope.get("method") != "GET":
            origin = headers.get("origin")
            if "x-dcgan-token" not in headers or (origin is not None and not self._origin_ok(origin)):
                return 403, "a request that changes something must come from this page (its origin and token header)"
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            refused = self.refusal(scope)
            if refused is not None:
                await JSONResponse({"error": refused[1]}, status_code=refused[0])(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(explorer: Explorer, *, token: str, host: str = EXPLORE_HOST, port: int = EXPLORE_PORT) -> Starlette:
    """The page's server for one launch: `token` is the secret the printed URL carries."""
    r = _Routes(explorer)
    routes = [
        Route("/", r.index),
        Route("/api/run", r.overview),
        Route("/api/samples", r.samples),
        Route("/api/interpolate", r.interpolate),
        Route("/api/export", r.export, methods=["POST"]),
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

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.jobs = r.jobs  # the server asks, when it stops, whether a job is still running
    app.add_middleware(Guard, token=token, host=host, port=port)
    return app
