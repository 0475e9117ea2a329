"""`dcgan explore`'s server: its routes (Starlette's test client), what it refuses, and the command's
own errors and clean stop. The page in a real browser is tests/test_explore_browser.py."""

import base64
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from .conftest import TOKEN, finish, invoke, page_client


def png_bytes(size=32, mode="RGB"):
    buf = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), 200, np.uint8)).convert(mode).save(buf, format="PNG")
    return buf.getvalue()


def test_the_page_and_its_assets_come_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and "explore.js" in page.text
    for asset in ("/assets/explore.js", "/assets/explore.css"):
        assert client.get(asset).status_code == 200
    # nothing the page loads comes from the internet
    for text in (page.text, client.get("/assets/explore.js").text, client.get("/assets/explore.css").text):
        assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_samples_are_the_library_s_samples(client, concept_run):
    from dcgan_cli import sample

    run = client.get("/api/run").json()
    assert run["checkpoints"][0]["name"] == "step-00000600.safetensors" and "guided" in run["methods"]
    assert "square" in run["words"] and run["size"] == 32
    r = client.get("/api/samples", params={"seeds": "3,7", "trunc": "0.5"}).json()
    assert r["seeds"] == [3, 7] and r["names"] == ["seed 3", "seed 7"]
    got = np.asarray(Image.open(io.BytesIO(base64.b64decode(r["images"][1]))))
    from dcgan_cli.core.pixels import to_hwc_uint8

    want = to_hwc_uint8(sample(concept_run, [7], trunc=0.5).images())[0]
    assert np.array_equal(got, want)
    near = client.get("/api/samples", params={"seeds": "1-4", "around": "7", "radius": "0"}).json()
    assert all(img == near["images"][0] for img in near["images"])  # radius 0: the seed itself, four times
    assert near["names"][0] == "near 7, #1"


@pytest.mark.parametrize("query, message", [
    ({"seeds": "0-999"}, "1 to 256 samples"),
    ({"seeds": "x"}, "seed"),
    ({"trunc": "5"}, "--trunc must be 0 to 2"),
    ({"trunc": "abc"}, "trunc must be a number"),
    ({"ckpt": "../../etc/passwd"}, "no checkpoint '../../etc/passwd' in this run"),
    ({"around": "3", "radius": "7"}, "--radius must be 0 to 1"),
])
def test_bad_requests_are_one_line_errors(client, query, message):
    r = client.get("/api/samples", params=query)
    assert r.status_code == 400 and message in r.json()["error"]


@pytest.mark.parametrize("path", ["../../../etc/passwd", "..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd",
                                  "checkpoints/step-00000600.safetensors", "run.json/../../../../etc/hostname"])
def test_files_are_served_only_from_the_run_folder(client, path):
    r = client.get("/files/" + path)
    assert r.status_code == 404 and "root:" not in r.text


def test_the_run_s_pictures_are_served(client, concept_run):
    Image.new("RGB", (8, 8)).save(concept_run / "progress-test.png")
    try:
        assert "progress-test.png" in client.get("/api/run").json()["pictures"]
        assert client.get("/files/progress-test.png").content[:4] == b"\x89PNG"
    finally:
        (concept_run / "progress-test.png").unlink()


def test_uploads_are_checked_kept_in_the_session_folder_and_projected(client):
    bad = client.post("/api/upload", content=b"not a picture", headers={"x-filename": "notes.txt"})
    assert bad.status_code == 400 and "not a picture file" in bad.json()["error"]
    fake = client.post("/api/upload", content=b"GIF89a garbage", headers={"x-filename": "fake.png"})
    assert fake.status_code == 400
    tiny = client.post("/api/upload", content=png_bytes(8), headers={"x-filename": "tiny.png"})
    assert tiny.status_code == 400 and "too small" in tiny.json()["error"]
    huge = client.post("/api/upload", content=b"0" * (21 * 2**20), headers={"x-filename": "big.png"})
    assert huge.status_code == 413
    bomb = io.BytesIO()
    Image.new("L", (20000, 20000)).save(bomb, format="PNG")
    r = client.post("/api/upload", content=bomb.getvalue(), headers={"x-filename": "bomb.png"})
    assert r.status_code == 400 and "'bomb.png' is too large to decode safely" in r.json()["error"]
    assert "uploads" not in r.json()["error"]
    assert [p.name for p in client.uploads.iterdir()] == []  # nothing refused is kept
    ok = client.post("/api/upload", content=png_bytes(48), headers={"x-filename": "mine.png"})
    assert ok.status_code == 200
    job = finish(client, "project", {"upload": f"z:{ok.json()['id']}"})
    assert job["state"] == "done", job
    lines = " ".join(job["result"]["lines"])
    assert "mine" in lines and "upload-" not in lines, lines  # the picture's own name, not the session's number
    zid = job["result"]["id"]
    assert any(p.name.endswith(".z.safetensors") for p in client.uploads.rglob("*"))
    walk = client.get("/api/interpolate", params={"a": f"z:{zid}", "b": "seed:3", "steps": "5"}).json()
    assert len(walk["frames"]) == 5


def test_arithmetic_gives_the_verdict_and_results_to_explore_from(client, shapes_classifier):
    job = finish(client, "arithmetic", {"expression": "small red square - small square + large square", "method": "guided"})
    assert job["state"] == "done", job
    r = job["result"]
    assert any("small/large: expected large" in line for line in r["verdict"])
    assert len(r["results"]) == len(r["ids"]) >= 1
    walk = client.get("/api/interpolate", params={"a": f"z:{r['ids'][0]}", "b": "seed:1", "steps": "3"})
    assert walk.status_code == 200 and len(walk.json()["frames"]) == 3
    wrong = finish(client, "arithmetic", {"expression": "red - - blue"})
    assert wrong["state"] == "failed" and "column" in wrong["error"]
    assert client.post("/api/jobs/erase", json={}).status_code == 404
    assert client.post("/api/jobs/read", json={"seed": "many"}).status_code == 400


def test_reading_and_nearest_images_run_as_jobs(client, shapes_classifier):
    read = finish(client, "read", {"seed": 4})
    assert read["state"] == "done" and set(read["result"]["read"]) == {"circle/square/triangle", "red/green/blue/yellow",
                                                                        "small/large"}
    near = finish(client, "neighbours", {"seed": 4})
    assert near["state"] == "done" and near["result"]["figure"]


def test_a_walk_exports_the_files_interpolate_writes(client, concept_run):
    r = client.post("/api/export", json={"a": "seed:1", "b": "seed:2", "steps": "4"}).json()
    written = [p for p in r["written"]]
    assert any(p.endswith(".png") for p in written) and any(p.endswith(".gif") for p in written)
    # said relative to the run folder (the page shows no path of this machine), and there on disk
    assert all(p.startswith(f"{concept_run.name}/interpolate/") for p in written), written
    assert all((concept_run.parent / p).is_file() for p in written)
    assert client.get("/api/interpolate", params={"a": "/etc/passwd", "b": "seed:2"}).status_code == 400


def test_a_busy_port_is_one_line_naming_port(runner, concept_run):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = invoke(runner, "explore", concept_run, "--port", port, "--no-browser", "--device", "cpu")
    assert r.exit_code == 2 and f"port {port} on 127.0.0.1 is in use" in r.output and "--port" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_without_the_extra_it_says_what_to_install(runner, concept_run, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    r = invoke(runner, "explore", concept_run, "--no-browser")
    assert r.exit_code == 1 and "pip install 'dcgan-cli[explore]'" in r.output


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_it_cleanly_and_deletes_the_uploads(concept_run, tmp_path, stop):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "dcgan_cli", "explore", str(concept_run), "--port", str(port),
                             "--no-browser", "--device", "cpu", "--host", "0.0.0.0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        first = proc.stdout.readline() + proc.stdout.readline()
        assert "warning: serving on 0.0.0.0" in first and f":{port}/?token=" in first
        token = re.search(r"\?token=([\w-]+)", first).group(1)
        import urllib.request

        deadline = time.time() + 60
        while True:
            try:
                asked = urllib.request.Request(f"http://127.0.0.1:{port}/api/run", headers={"X-Dcgan-Token": token})
                run = json.loads(urllib.request.urlopen(asked, timeout=5).read())
                break
            except OSError:
                assert time.time() < deadline, "the server did not answer"
                time.sleep(0.2)
        assert run["default"] == "step-00000600.safetensors"
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith("dcgan-explore-")]
        proc.send_signal(stop)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "Traceback" not in out and "stopped" in out, out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("dcgan-explore-")]


def test_a_folder_of_runs_offers_every_run_s_checkpoints(concept_run, tmp_path):
    import shutil

    from dcgan_cli.explore.session import Explorer

    runs = tmp_path / "runs"
    for name in ("first", "second"):
        shutil.copytree(concept_run, runs / name, ignore=shutil.ignore_patterns("concepts", "encoders", "interpolate"))
    os.utime(runs / "second" / "checkpoints" / "step-00000600.safetensors", ns=(1, 2 * 10**18))  # the newest
    Image.new("RGB", (8, 8)).save(runs / "first" / "only-in-first.png")
    (tmp_path / "up").mkdir()
    with page_client(Explorer(runs, tmp_path / "up")) as c:
        run = c.get("/api/run").json()
        assert [x["name"] for x in run["checkpoints"]] == ["first/step-00000600.safetensors",
                                                           "second/step-00000600.safetensors"]
        assert run["default"] == "second/step-00000600.safetensors" and run["run"].endswith("second")
        first = c.get("/api/run", params={"ckpt": "first/step-00000600.safetensors"}).json()
        assert "only-in-first.png" in first["pictures"] and first["run"].endswith("first")
        assert c.get("/files/only-in-first.png", params={"ckpt": "first/step-00000600.safetensors"}).status_code == 200
        assert c.get("/files/only-in-first.png").status_code == 404  # not a file of the newest run
        assert c.get("/api/samples", params={"seeds": "1", "ckpt": "first/step-00000600.safetensors"}).status_code == 200
    with pytest.raises(Exception, match="no run with checkpoints under"):
        Explorer(tmp_path / "up", tmp_path / "up2")


def test_a_run_s_checkpoints_folder_opens_the_run(concept_run, tmp_path):
    from dcgan_cli.explore.session import Explorer

    e = Explorer(concept_run / "checkpoints", tmp_path)
    assert e.default == "step-00000600.safetensors" and e.run.path == concept_run


# --- the trust boundary: what a page on another origin (or a rebound DNS name) can do


def test_a_foreign_host_header_is_answered_with_nothing(client):
    for path in ("/api/run", "/files/run.json", "/api/samples?seeds=1", "/"):
        r = client.get(path, headers={"Host": "evil.example"})
        assert r.status_code == 421 and "its own address" in r.json()["error"], path
    assert client.get("/api/run", headers={"Host": "127.0.0.1:9999"}).status_code == 421  # another port
    assert client.get("/api/run", headers={"Host": "localhost:8765"}).status_code == 200



def test_a_host_whose_port_is_not_ascii_digits_is_a_bad_request():
    """'127.0.0.1:²' passed str.isdigit() and failed int(): an HTTP 500 with a traceback, even for GET /."""
    from dcgan_cli.explore.app import Guard

    guard = Guard(None, token=TOKEN, host="127.0.0.1", port=8765)
    for raw in ("127.0.0.1:\u00b2".encode("utf-8"), b"127.0.0.1:\xb2", b"localhost:87a5", b"127.0.0.1:\xd9\xa1"):
        scope = {"type": "http", "path": "/", "method": "GET", "headers": [(b"host", raw)], "query_string": b""}
        code, why = guard.refusal(scope)
        assert code == 400 and "port" in why, raw


def test_every_api_route_needs_the_launch_token(client):
    for path in ("/api/run", "/api/samples?seeds=1", "/files/run.json", "/api/job/x"):
        r = client.get(path, headers={"X-Dcgan-Token": ""})
        assert r.status_code == 403 and "token" in r.json()["error"], path
        assert client.get(path, headers={"X-Dcgan-Token": "guess"}).status_code == 403
    assert client.get("/api/samples", params={"seeds": "1", "token": TOKEN}, headers={"X-Dcgan-Token": ""}).status_code == 200
    assert client.get("/").status_code == 200  # the page itself holds no data of the run


def test_a_cross_origin_simple_post_starts_nothing(client):
    # what a form or fetch(no-cors) on another page can send: text/plain, no token header
    r = client.post("/api/jobs/read", content='{"seed": 5}', headers={"Content-Type": "text/plain", "X-Dcgan-Token": "",
                                                                      "Origin": "http://evil.example"})
    assert r.status_code == 403
    # even knowing the token, another origin is refused, and the JSON type is required
    r = client.post("/api/jobs/read", json={"seed": 5}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "this page" in r.json()["error"]
    r = client.post("/api/jobs/read", content='{"seed": 5}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and "application/json" in r.json()["error"]
    r = client.post("/api/upload", content=png_bytes(32), headers={"x-filename": "a.png", "X-Dcgan-Token": ""})
    assert r.status_code == 403 and not list(client.uploads.iterdir())


def test_a_get_never_writes_into_the_run_folder(client):
    before = sorted(p.relative_to(client.run) for p in client.run.rglob("*"))
    r = client.get("/api/interpolate", params={"a": "seed:0", "b": "seed:7", "steps": "9", "export": "1"})
    assert r.status_code == 405 and "POST /api/export" in r.json()["error"]
    assert sorted(p.relative_to(client.run) for p in client.run.rglob("*")) == before


def test_job_ids_are_unguessable_and_a_stranger_s_id_finds_nothing(client, shapes_classifier):
    key = client.post("/api/jobs/read", json={"seed": 1}).json()["job"]
    assert len(key) >= 16 and not key.isdigit()
    for guess in ("1", "2", "3"):
        assert client.get(f"/api/job/{guess}").status_code == 404


def test_uploads_are_capped_per_session(concept_run, tmp_path):
    from dcgan_cli.explore.session import Explorer, Limits

    uploads = tmp_path / "uploads"
    uploads.mkdir()
    with page_client(Explorer(concept_run, uploads, device="cpu", limits=Limits(uploads=2))) as client:
        for i in range(2):
            assert client.post("/api/upload", content=png_bytes(32), headers={"x-filename": f"{i}.png"}).status_code == 200
        r = client.post("/api/upload", content=png_bytes(32), headers={"x-filename": "third.png"})
    assert r.status_code == 413 and "2 uploads" in r.json()["error"] and len(list(uploads.iterdir())) == 2


def test_a_hard_link_planted_in_the_run_folder_is_not_served(client, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"key": "mine"}')
    planted = client.run / "planted.json"
    os.link(secret, planted)
    try:
        r = client.get("/files/planted.json")
        assert r.status_code == 404 and "mine" not in r.text
    finally:
        planted.unlink()


@pytest.mark.parametrize("body", ['{"seed": -1}', '{"seed": 1.9}', '{"seed": 1e400}', '{"seed": %d}' % 2**70,
                                  '{"seed": true}', '{"seed": NaN}', "[" * 100_000 + "]" * 100_000])
def test_a_bad_job_body_is_a_one_line_400(client, body):
    r = client.post("/api/jobs/read", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "\n" not in r.json()["error"], r.text


@pytest.mark.parametrize("kind, body, field", [
    ("label", {"phrase": "square", "n": 2.9}, "n"), ("label", {"phrase": "square", "n": True}, "n"),
    ("label", {"phrase": "square", "n": "٣"}, "n"), ("label", {"phrase": ["square"]}, "phrase"),
    ("read", {"seed": 1, "trunc": True}, "trunc"), ("read", {"seed": 1, "radius": "nan"}, "radius"),
    ("steer", {"ref": "seed:1", "concept": 5}, "concept"), ("arithmetic", {"expression": "square", "method": 3}, "method"),
])
def test_a_job_field_of_the_wrong_type_is_a_400_naming_it(client, kind, body, field):
    r = client.post(f"/api/jobs/{kind}", json=body)
    assert r.status_code == 400 and r.json()["error"].startswith(f"{field} must be "), r.text


@pytest.mark.parametrize("steps", [9.7, True, "9.7", "٩"])
def test_a_walk_s_steps_must_be_a_whole_number(client, steps):
    r = client.post("/api/export", json={"a": "seed:1", "b": "seed:2", "steps": steps})
    assert r.status_code == 400 and r.json()["error"].startswith("steps must be a whole number"), r.text
    r = client.get("/api/interpolate", params={"a": "seed:1", "b": "seed:2", "steps": str(steps)})
    assert r.status_code == 400 and r.json()["error"].startswith("steps must be a whole number"), r.text


@pytest.mark.parametrize("path", ["/files/x%00.txt", "/files/" + "a" * 5000 + ".png"])
def test_odd_file_names_are_a_404(client, path):
    r = client.get(path)
    assert r.status_code == 404 and len(r.json()["error"]) < 400


@pytest.mark.parametrize("end", ["seed:%C2%B2", "seed:99999999999999999999999", "seed:-1"])
def test_a_bad_walk_end_is_a_400(client, end):
    r = client.get(f"/api/interpolate?a={end}&b=seed:1")
    assert r.status_code == 400 and "not a seed" in r.json()["error"]


def test_the_checkpoint_list_follows_the_disk(concept_run, tmp_path):
    """A run prunes (or adds) checkpoints while the page is open: the list says what is there now."""
    import shutil

    from dcgan_cli.explore.session import Explorer

    run = tmp_path / "run"
    shutil.copytree(concept_run, run, ignore=shutil.ignore_patterns("concepts", "encoders", "interpolate"))
    ckpts = run / "checkpoints"
    shutil.copy(ckpts / "step-00000600.safetensors", ckpts / "step-00000300.safetensors")
    (tmp_path / "up").mkdir()
    with page_client(Explorer(run, tmp_path / "up")) as c:
        names = lambda: [x["name"] for x in c.get("/api/run").json()["checkpoints"]]  # noqa: E731
        assert names() == ["step-00000300.safetensors", "step-00000600.safetensors"]
        (ckpts / "step-00000300.safetensors").unlink()
        shutil.copy(ckpts / "step-00000600.safetensors", ckpts / "step-00000900.safetensors")
        assert names() == ["step-00000600.safetensors", "step-00000900.safetensors"]
        r = c.get("/api/samples", params={"seeds": "1", "ckpt": "step-00000300.safetensors"})
        assert r.status_code == 400 and "no checkpoint 'step-00000300.safetensors' in this run" in r.json()["error"]
        assert "dcgan" not in r.json()["error"]  # the page's words, not the command line's
        assert c.get("/api/samples", params={"seeds": "1", "ckpt": "step-00000900.safetensors"}).status_code == 200


def test_names_reach_the_page_with_controls_escaped_and_no_absolute_path(tiny_run, runner, tmp_path, monkeypatch):
    import shutil

    from dcgan_cli.core.checkpoint import load_checkpoint
    from dcgan_cli.explore.session import Explorer

    from .conftest import forge_checkpoint

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("checkpoints"))
    (run / "checkpoints").mkdir()
    c = load_checkpoint(tiny_run)
    labels = ["green\u202etxt.exe", *c.dataset.label_names[1:]]
    forge_checkpoint(run / "checkpoints" / "step-00000016.safetensors", c.tensors,
                     {**c.meta, "dataset": {**c.meta["dataset"], "label_names": labels}})
    picture = tmp_path / "up" / "ok64.png"
    picture.parent.mkdir()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(picture)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    r = invoke(runner, "project", run, str(picture.resolve()), "--steps", "5", "--device", "cpu")
    assert r.exit_code == 0, r.output
    (tmp_path / "session").mkdir()
    with page_client(Explorer(run, tmp_path / "session", device="cpu")) as client:
        overview = client.get("/api/run")
        assert overview.status_code == 200 and "\u202e" not in overview.text and "\\\\u202e" in overview.text
        assert "green\\\\u202etxt.exe" in json.dumps(overview.json()["info"])  # as the terminal shows it
        listed = [p for p in overview.json()["pictures"] if p.startswith("project/")]
        record = client.get("/files/" + listed[0].rsplit("/", 1)[0] + "/projection.json")
        assert record.status_code == 200, record.text
        assert str(tmp_path) not in record.text and record.json()["images"][0]["source"] == "ok64.png"
