"""`dcgan explore` stopped the hard ways: a page that goes away mid-upload and a Ctrl-C while a job runs,
and two Ctrl-C a moment apart while a job runs. Both are quiet in the log; the exit stays 0 and the session's
folder is deleted."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ask(port, token, path, body=None):
    headers = {"X-Dcgan-Token": token, "Origin": f"http://127.0.0.1:{port}", "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method="POST" if data else "GET")
    return json.loads(urllib.request.urlopen(req, timeout=60).read())


def _launch(run, tmp_path):
    """`dcgan explore RUN` in a child, returned once it answers: (process, port, token, its first line)."""
    port = _port()
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "dcgan_cli", "explore", str(run), "--port", str(port),
                             "--no-browser", "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    first = proc.stdout.readline()
    token = re.search(r"\?token=([\w-]+)", first).group(1)  # printed once the server is about to listen
    while True:
        try:
            _ask(port, token, "/api/run")
            return proc, port, token, first
        except OSError:
            time.sleep(0.05)  # polling until it listens, not a guess at how long that takes


def _running(port, token, key) -> str:
    """The job's state once it has left the queue: "running" while it works."""
    while (state := _ask(port, token, f"/api/job/{key}")["state"]) == "queued":
        time.sleep(0.01)
    return state


def _stopped_quietly(proc, out: str, state: str, tmp_path, banned: str) -> None:
    """What every stop must show: the job was running at the Ctrl-C, the explorer said it stopped and exited 0
    with no traceback (nor `banned`) in its output, and this session's folder is gone."""
    assert state == "running", "the job ended before the Ctrl-C: the case was not tried"
    assert proc.returncode == 0 and "Traceback" not in out and banned not in out and "stopped" in out, out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("dcgan-explore-")]


@pytest.mark.slow
def test_a_dropped_upload_and_a_ctrl_c_mid_job_are_quiet(concept_run, tmp_path):
    proc, port, token, first = _launch(concept_run, tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", port)) as s:  # promises 1 MB, sends 100 kB, hangs up
            s.sendall((f"POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Dcgan-Token: {token}\r\n"
                       f"Origin: http://127.0.0.1:{port}\r\nX-Filename: a.png\r\nContent-Length: 1000000\r\n\r\n").encode()
                      + b"x" * 100_000)
        key = _ask(port, token, "/api/jobs/arithmetic", {"expression": "red circle - circle + square"})["job"]
        state = _running(port, token, key)  # the arithmetic builds its labelled bank first: seconds of work
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    _stopped_quietly(proc, first + out, state, tmp_path, "Exception")


@pytest.mark.slow
def test_two_ctrl_c_a_moment_apart_while_a_job_runs_stop_it_quietly(concept_run, tmp_path):
    proc, port, token, first = _launch(concept_run, tmp_path)
    try:
        key = _ask(port, token, "/api/jobs/label", {"phrase": "red square", "n": 256})["job"]
        state = _running(port, token, key)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.02)  # the second press 20 ms after the first (the gap itself is the case, not a wait)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    _stopped_quietly(proc, first + out, state, tmp_path, "Error")
