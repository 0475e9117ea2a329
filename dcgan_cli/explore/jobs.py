"""Heavy work of the page (the first attribute classifier, a bank, nn-search, a projection) runs here,
one job at a time on a worker thread, while the page polls its progress: the server never waits on it."""

from __future__ import annotations

import secrets
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..core.errors import DcganError

KEEP = 50  # finished jobs remembered for polling


class Jobs:
    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dcgan-explore")
        self._jobs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def submit(self, what: str, fn: Callable[..., dict], public: Callable[[Any], Any] = lambda x: x) -> str:
        """Start fn(on_progress=...) in the background; the id polls its state. Ids are unguessable: knowing
        one is having started the job (the page that holds this launch's token). `public` rewrites the
        result, phases and errors for the page (no absolute paths)."""
        key = secrets.token_urlsafe(12)
        job = {"id": key, "what": what, "state": "queued", "phase": "", "done": 0, "total": 0, "result": None, "error": None}
        with self._lock:
            self._jobs[key] = job
            for old in [k for k, j in self._jobs.items() if j["state"] in ("done", "failed")][:-KEEP]:
                del self._jobs[old]

        def progress(done: int, total: int | None, what: str = "") -> None:  # the library's Progress
            job.update(phase=public(str(what or job["phase"])), done=int(done), total=int(total or 0))

        def run() -> None:
            job["state"] = "running"
            try:
                job["result"] = public(fn(on_progress=progress))
                job["state"] = "done"
            except DcganError as e:
                job["error"], job["state"] = public(str(e)), "failed"
            except Exception as e:  # a bug: the page says so in one line, the terminal keeps the trace
                traceback.print_exc()
                job["error"], job["state"] = public(f"{type(e).__name__}: {e}"), "failed"

        self._pool.submit(run)
        return key

    def get(self, key: str) -> dict[str, Any] | None:
        return self._jobs.get(key)

    def busy(self) -> bool:
        return any(j["state"] == "running" for j in list(self._jobs.values()))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
