"""`dcgan explore`: serve the page on this machine (or, with --host, to others) until Ctrl-C."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path

from ..core.defaults import EXPLORE_HOST, EXPLORE_PORT
from ..core.errors import DcganError, UsageError

MISSING = "dcgan explore needs the explorer's web server: pip install 'dcgan-cli[explore]'"


def check_installed() -> None:
    import importlib.util

    if any(importlib.util.find_spec(m) is None for m in ("starlette", "uvicorn")):
        raise DcganError(MISSING)


def is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port(host: str, port: int) -> None:
    """A busy port is one line naming --port, before anything loads."""
    if not 1 <= port <= 65535:
        raise UsageError(f"--port must be 1 to 65535, got {port}")
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, port))
    except socket.gaierror:
        raise UsageError(f"--host {host!r} is not an address of this machine") from None
    except OSError as e:
        raise UsageError(f"port {port} on {host} is in use ({e.strerror}); choose another with --port") from None


def serve(target: Path | None, *, host: str = EXPLORE_HOST, port: int = EXPLORE_PORT, open_browser: bool = True,
          device="cpu", say: Callable[[str], None] = print) -> None:
    check_installed()
    check_port(host, port)
    import uvicorn

    from .app import create_app
    from .session import Explorer

    uploads = Path(tempfile.mkdtemp(prefix="dcgan-explore-"))
    try:
        explorer = Explorer(target, uploads, device=device)
        token = secrets.token_urlsafe(18)  # this launch's: only the printed URL holds it
        app = create_app(explorer, token=token, host=host, port=port)
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/?token={token}"
        if not is_local(host):
            say(f"warning: serving on {host}, so other machines can reach this run's pictures and models; "
                "--host 127.0.0.1 keeps it to this machine (an SSH port forward reaches it from elsewhere)")
        what = explorer.run.path if explorer.run else explorer.files[explorer.default]
        say(f"exploring {what} ({explorer.describe_default()}) "
            f"at {url} (Ctrl-C stops)")
        server = _server_class()(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                                      timeout_graceful_shutdown=5))
        if open_browser:
            threading.Timer(1.0, _open, (url,)).start()
        try:
            server.run()
        except KeyboardInterrupt:  # a Ctrl-C before the server took the signals: stopping is what it was for
            pass
        finally:
            # Stopping has begun: a second Ctrl-C now (while the cleanup runs, or the interpreter exits)
            # would only turn a clean stop into exit code 130, so it is ignored until the process ends.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    finally:
        shutil.rmtree(uploads, ignore_errors=True)
    say("stopped; this session's uploads and results are deleted")
    if app.state.jobs.busy():
        # A job's result has no page left to read it; waiting for it at exit would make a second Ctrl-C
        # a traceback from the interpreter's thread join. Leave now, with the files already cleaned up.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _server_class():  # uvicorn is an extra: imported when the explorer starts
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, stopping on SIGINT and SIGTERM without raising the signal again once stopped, and
        taking a second Ctrl-C as the same request: uvicorn's re-raise inside the closing event loop and its
        forced exit printed KeyboardInterrupt and CancelledError tracebacks. The uploads are deleted after
        it returns; the jobs are threads, so the stop never waits for one."""

        @contextlib.contextmanager
        def capture_signals(self):
            previous = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for s, handler in previous.items():
                    signal.signal(s, handler)

        def handle_exit(self, sig, frame) -> None:
            self.should_exit = True

    return Server


def _open(url: str) -> None:
    try:
        webbrowser.get().open(url)
    except webbrowser.Error:  # no browser on this machine (a server): the printed URL is enough
        pass
